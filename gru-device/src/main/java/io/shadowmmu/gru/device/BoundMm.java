package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.ArrayList;
import java.util.List;

/**
 * One mm as this device sees it ({@code struct gru_mm_struct}): its notifier subscription, its ASID on this device,
 * the invalidations in progress ({@code ms_range_active}) and the instruction batches waiting for them to end.
 */
final class BoundMm {
    final ActorRef<MmCommand> mm;
    final long mmId;
    final long agent;
    final int asid;
    long subscription = -1;
    AccessGrant grant;
    PageTableWalker walker;
    /** Invalidations seen started and not yet ended ({@code ms_range_active}), with their ranges. */
    int rangeActive;
    final List<Range> activeRanges = new ArrayList<>();
    /** An invalidation start reached this binding (context churn waits for one before it re-creates it). */
    boolean sawStart;
    /** Bumped by every end and fence; a drop-in that saw it move is discarded. Compared with != only. */
    long sequence;
    /** Contexts bound to this mm, and how many of them hold a hardware context now. */
    int contexts;
    int loaded;
    /** Batches waiting for registration or for an active range to end ({@code ms_wait_queue}). */
    final List<GruDevice.Pending> waiting = new ArrayList<>();

    BoundMm(ActorRef<MmCommand> mm, long mmId, long agent, int asid) {
        this.mm = mm;
        this.mmId = mmId;
        this.agent = agent;
        this.asid = asid;
    }

    boolean registered() {
        return walker != null && subscription >= 0;
    }

    boolean activeOver(long va) {
        return rangeActive > 0 && Range.anyContains(activeRanges, va);
    }
}
