package io.shadowmmu.emulator.bench;

import akka.actor.typed.Behavior;
import akka.actor.typed.ExtensibleBehavior;
import akka.actor.typed.Signal;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A secondary MMU for the delivery comparison that holds nothing: atomic, it acknowledges inside its handler;
 * sleeping, it has the acknowledgement sent {@code ackDelay} later by {@code timer} and serves other messages
 * meanwhile (the actor model's version of a callback that sleeps: a remote round trip, a vCPU shootdown).
 *
 * <p>The delay runs on a plain scheduled executor, not Akka's scheduler: with a 1 ms tick Akka's wheel fires a 1 ms
 * timer after 1-3 ms (it checks new timers once per tick and rounds up), while the synchronous baseline's
 * {@code Thread.sleep(1)} takes about 1.1 ms; the executor waits about as long as the sleep does, so both sides'
 * subscribers take the same 1 ms (BENCHMARKS.md, issue 16).
 */
final class BenchSubscriber extends ExtensibleBehavior<MmuNotification> {
    private final long delayNanos;
    private final ScheduledExecutorService timer;

    private BenchSubscriber(long delayNanos, ScheduledExecutorService timer) {
        this.delayNanos = delayNanos;
        this.timer = timer;
    }

    static Behavior<MmuNotification> create(Duration ackDelay, ScheduledExecutorService timer) {
        return new BenchSubscriber(ackDelay.toNanos(), timer);
    }

    /** One method for every notification, without Akka's javadsl receive (which allocates per message). */
    @Override
    public Behavior<MmuNotification> receive(TypedActorContext<MmuNotification> ctx, MmuNotification msg) {
        if (msg instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) msg;
            NotifierReply ack = NotifierReply.Ack.clean(s.subscription(), s.batch());
            if (delayNanos == 0) {
                s.replyTo().tell(ack);
            } else {
                timer.schedule(() -> s.replyTo().tell(ack), delayNanos, TimeUnit.NANOSECONDS);
            }
        } else if (msg instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) msg;
            r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
        }
        return this;
    }

    @Override
    public Behavior<MmuNotification> receiveSignal(TypedActorContext<MmuNotification> ctx, Signal signal) {
        return Behaviors.unhandled();
    }
}
