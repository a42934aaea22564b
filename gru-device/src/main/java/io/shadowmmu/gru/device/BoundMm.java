package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;

import java.util.function.Consumer;

/**
 * One mm as this device sees it ({@code struct gru_mm_struct}): its notifier subscription with the invalidations in
 * progress ({@code ms_range_active}), the invalidate sequence and the batches parked until one ends
 * ({@code ms_wait_queue}), all kept by one {@link IntervalNotifier}; plus its ASID on this device and its contexts.
 */
final class BoundMm {
    final ActorRef<MmCommand> mm;
    final long mmId;
    final long agent;
    final int asid;
    final IntervalNotifier<GruDevice.Pending> notifier;
    /** What the device does for this binding's notifications (set once, right after construction). */
    IntervalNotifier.Handler handler;
    /** An invalidation start reached this binding (context churn waits for one before it re-creates it). */
    boolean sawStart;
    /** Contexts bound to this mm, and how many of them hold a hardware context now. */
    int contexts;
    int loaded;

    BoundMm(ActorRef<MmCommand> mm, long mmId, long agent, int asid, Consumer<GruDevice.Pending> retry) {
        this.mm = mm;
        this.mmId = mmId;
        this.agent = agent;
        this.asid = asid;
        this.notifier = new IntervalNotifier<>(0, retry);
    }

    boolean registered() {
        return notifier.registered();
    }
}
