package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmCounters;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Ack deadlines and fencing: a subscriber that does not answer a batch within its deadline loses its access grant
 * and its subscription, and the batch goes on without it (DESIGN.md principle 3: a frame is freed once everybody
 * acked or was fenced). A subscriber that stops is treated alike, without the revocation. Either way it never reports
 * its writes again, so every frame it could have written is marked dirty first.
 */
final class Fencing {
    private final MmNotifier engine;
    private final ActorContext<MmCommand> context;
    private final TimerScheduler<MmCommand> timers;
    private final long mm;
    private final MmCounters counters;
    private final CoherenceEvents events;
    private final Subscriptions subscriptions;
    private final DirtyTracker dirty;
    /** The engine's batches in flight, by id. */
    private final Map<Long, Batch> batches;
    /** When the mm's one deadline timer fires (System.nanoTime), or Long.MAX_VALUE when it is not armed. */
    private long armedFor = Long.MAX_VALUE;

    Fencing(MmNotifier engine, ActorContext<MmCommand> context, TimerScheduler<MmCommand> timers, long mm,
            MmCounters counters, CoherenceEvents events, Subscriptions subscriptions, DirtyTracker dirty,
            Map<Long, Batch> batches) {
        this.engine = engine;
        this.context = context;
        this.timers = timers;
        this.mm = mm;
        this.counters = counters;
        this.events = events;
        this.subscriptions = subscriptions;
        this.dirty = dirty;
        this.batches = batches;
    }

    /** Arms the mm's ack-deadline timer for {@code s}'s part of {@code b}, unless it fires earlier already. */
    void trackDeadline(Batch b, Subscription s) {
        long deadline = b.startedNanos + s.ackDeadlineNanos;
        if (deadline < armedFor) {
            arm(deadline, System.nanoTime());
        }
    }

    private void arm(long deadline, long now) {
        armedFor = deadline;
        timers.startSingleTimer(MmNotifier.AckDeadline.CHECK, Duration.ofNanos(Math.max(0, deadline - now)));
    }

    /** The deadline timer fired: fence whoever is late on any batch, re-arm for the earliest deadline still ahead. */
    void onAckDeadline() {
        armedFor = Long.MAX_VALUE;
        long now = System.nanoTime();
        long nextDeadline = Long.MAX_VALUE;
        for (Batch b : List.copyOf(batches.values())) {
            for (int i = 0; i < b.partCount(); i++) {
                Batch.Part part = b.part(i);
                if (part.awaiting == 0 || !batches.containsKey(b.key)) {
                    continue;
                }
                long deadline = b.startedNanos + part.sub.ackDeadlineNanos;
                if (deadline <= now) {
                    fence(part.sub, "no ack for batch " + b.id + " within "
                            + Duration.ofNanos(part.sub.ackDeadlineNanos).toMillis() + " ms");
                } else {
                    nextDeadline = Math.min(nextDeadline, deadline);
                }
            }
        }
        if (nextDeadline != Long.MAX_VALUE && nextDeadline < armedFor) {
            arm(nextDeadline, now);
        }
    }

    /**
     * Gives up on a subscriber: revokes its access, tells it, forgets it. Every batch it owed an ack proceeds, but
     * frees frames only once the revoked subscriber is out of its access section.
     */
    private void fence(Subscription s, String reason) {
        s.grant.revoke();
        counters.fences++;
        events.agentRevoked(s.agent, "fenced: " + reason);
        subscriptions.remove(s);
        dirty.assumeWrittenBy(s);
        s.ref.tell(new MmuNotification.Fenced(s.id, mm, reason));
        counters.sent(s.id);
        context.getLog().info("mm {}: fenced {}: {}", mm, s, reason);
        for (Batch b : List.copyOf(batches.values())) {
            Batch.Part part = b.part(s.id);
            if (part != null) {
                boolean owed = part.awaiting > 0;
                part.awaiting = 0;
                b.fenced(s.grant);
                if (owed) {
                    events.invalidationFenced(mm, b.id, s.id);
                }
                engine.tryFinish(b);
            }
        }
    }

    /** A subscriber actor stopped: it holds nothing, so what it owed counts as acked. */
    void onSubscriberDied(ActorRef<MmuNotification> ref) {
        for (Subscription s : subscriptions.of(ref)) {
            counters.deaths++;
            events.agentRevoked(s.agent, "subscriber stopped");
            subscriptions.remove(s);
            dirty.assumeWrittenBy(s);
            // A dead subscriber holds nothing: what it owed counts as acked.
            engine.settle(s);
        }
    }
}
