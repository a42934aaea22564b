package io.shadowmmu.testkit.fault;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * A forwarding proxy between a host and one subscriber: register the link's ref (see {@link #notifications}) instead
 * of the subscriber's, and the link delays, duplicates, reorders and drops notifications, and slows the subscriber's
 * replies, as its {@link FaultPlan} says. Seeded: the same arrivals and seed give the same faults.
 *
 * <p>The behaviour takes {@code Object} because it receives the host's notifications and its own timer messages;
 * callers see only {@code ActorRef<MmuNotification>} through {@link #notifications}.
 */
public final class FaultyLink extends AbstractBehavior<Object> {

    /** A delayed message's time has come. */
    private record Due(long seq) {
    }

    /** A message held back for reordering waited long enough for a successor that never came. */
    private enum FlushHeld {
        INSTANCE
    }

    private static final class Entry {
        final long seq;
        final MmuNotification message;
        boolean due;

        Entry(long seq, MmuNotification message) {
            this.seq = seq;
            this.message = message;
        }
    }

    private final ActorRef<MmuNotification> subscriber;
    private final FaultPlan plan;
    private final FaultCounters counters;
    private final TimerScheduler<Object> timers;
    private final Random random;
    private final ArrayDeque<Entry> line = new ArrayDeque<>();
    private final Map<ActorRef<NotifierReply>, ActorRef<NotifierReply>> slowRepliers = new HashMap<>();
    private MmuNotification held;
    private long nextSeq;

    public static Behavior<Object> create(ActorRef<MmuNotification> subscriber, FaultPlan plan,
                                          FaultCounters counters) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new FaultyLink(ctx, timers, subscriber, plan,
                counters)));
    }

    /** The address to register with the host in place of the subscriber's. */
    public static ActorRef<MmuNotification> notifications(ActorRef<Object> link) {
        return link.narrow();
    }

    private FaultyLink(ActorContext<Object> context, TimerScheduler<Object> timers, ActorRef<MmuNotification> subscriber,
                       FaultPlan plan, FaultCounters counters) {
        super(context);
        this.timers = timers;
        this.subscriber = subscriber;
        this.plan = plan;
        this.counters = counters;
        this.random = new Random(plan.seed());
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(MmuNotification.class, this::onNotification)
                .onMessage(Due.class, this::onDue)
                .onMessageEquals(FlushHeld.INSTANCE, this::onFlushHeld)
                .build();
    }

    private Behavior<Object> onNotification(MmuNotification m) {
        counters.received.incrementAndGet();
        if (plan.drop() > 0 && plan.droppable().contains(m.getClass()) && random.nextDouble() < plan.drop()) {
            counters.dropped.incrementAndGet();
            return this;
        }
        MmuNotification out = plan.ackDelay().isZero() ? m : withSlowReplies(m);
        if (held == null && plan.reorder() > 0 && random.nextDouble() < plan.reorder()) {
            held = out;
            timers.startSingleTimer(FlushHeld.INSTANCE, FlushHeld.INSTANCE, holdLimit());
            return this;
        }
        if (held != null) {
            MmuNotification first = held;
            held = null;
            timers.cancel(FlushHeld.INSTANCE);
            if (endOf(out, first)) {
                // An End never overtakes its own Start: the subscriber could not make sense of it, and no transport
                // between two fixed actors does that.
                enqueue(first);
                enqueue(out);
            } else {
                counters.reordered.incrementAndGet();
                enqueue(out);
                enqueue(first);
            }
            return this;
        }
        enqueue(out);
        return this;
    }

    private Behavior<Object> onDue(Due d) {
        for (Entry e : line) {
            if (e.seq == d.seq()) {
                e.due = true;
                break;
            }
        }
        deliverDue();
        return this;
    }

    private Behavior<Object> onFlushHeld() {
        if (held != null) {
            MmuNotification m = held;
            held = null;
            enqueue(m);
        }
        return this;
    }

    private void enqueue(MmuNotification m) {
        int copies = plan.duplicate() > 0 && random.nextDouble() < plan.duplicate() ? 2 : 1;
        if (copies == 2) {
            counters.duplicated.incrementAndGet();
        }
        for (int i = 0; i < copies; i++) {
            Entry e = new Entry(nextSeq++, m);
            Duration delay = sampleDelay();
            line.add(e);
            if (delay.isZero()) {
                e.due = true;
            } else {
                counters.delayed.incrementAndGet();
                timers.startSingleTimer(new Due(e.seq), new Due(e.seq), delay);
            }
        }
        deliverDue();
    }

    /** First in, first out: a message leaves when its own delay is over and everything before it has left. */
    private void deliverDue() {
        while (!line.isEmpty() && line.peekFirst().due) {
            subscriber.tell(line.pollFirst().message);
            counters.delivered.incrementAndGet();
        }
    }

    private Duration sampleDelay() {
        long min = plan.delayMin().toNanos();
        long span = plan.delayMax().toNanos() - min;
        return Duration.ofNanos(span == 0 ? min : min + (long) (random.nextDouble() * (span + 1)));
    }

    private Duration holdLimit() {
        Duration max = plan.delayMax();
        return max.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : max;
    }

    private static boolean endOf(MmuNotification later, MmuNotification earlier) {
        if (later instanceof MmuNotification.InvalidateEnd && earlier instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateEnd end = (MmuNotification.InvalidateEnd) later;
            MmuNotification.InvalidateStart start = (MmuNotification.InvalidateStart) earlier;
            return end.subscription() == start.subscription() && end.batch() == start.batch();
        }
        return false;
    }

    /** The same notification with its reply address replaced by a slow forwarder to it. */
    private MmuNotification withSlowReplies(MmuNotification m) {
        if (m instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) m;
            return new MmuNotification.InvalidateStart(s.subscription(), s.mm(), s.batch(), s.ranges(), s.event(),
                    s.blockable(), slow(s.replyTo()));
        }
        if (m instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) m;
            return new MmuNotification.Release(r.subscription(), r.mm(), r.batch(), slow(r.replyTo()));
        }
        if (m instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung c = (MmuNotification.ClearYoung) m;
            return new MmuNotification.ClearYoung(c.subscription(), c.mm(), c.request(), c.range(), slow(c.replyTo()));
        }
        if (m instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung t = (MmuNotification.TestYoung) m;
            return new MmuNotification.TestYoung(t.subscription(), t.mm(), t.request(), t.range(), slow(t.replyTo()));
        }
        return m;
    }

    private ActorRef<NotifierReply> slow(ActorRef<NotifierReply> host) {
        return slowRepliers.computeIfAbsent(host, h -> getContext().spawnAnonymous(SlowReplies.create(h,
                plan.ackDelay(), counters)));
    }
}
