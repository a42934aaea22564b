package io.shadowmmu.emulator.bench;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;

/**
 * A secondary MMU for the delivery comparison that holds nothing: atomic, it acknowledges inside its handler;
 * sleeping, it has the acknowledgement delivered by a timer after {@code ackDelay} and serves other messages meanwhile
 * (the actor model's version of a callback that sleeps).
 */
final class BenchSubscriber {
    private BenchSubscriber() {
    }

    static Behavior<MmuNotification> create(Duration ackDelay) {
        return Behaviors.setup(ctx -> Behaviors.receive(MmuNotification.class)
                .onMessage(MmuNotification.InvalidateStart.class, s -> {
                    NotifierReply ack = NotifierReply.Ack.clean(s.subscription(), s.batch());
                    if (ackDelay.isZero()) {
                        s.replyTo().tell(ack);
                    } else {
                        ctx.scheduleOnce(ackDelay, s.replyTo(), ack);
                    }
                    return Behaviors.same();
                })
                .onMessage(MmuNotification.Release.class, r -> {
                    r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
                    return Behaviors.same();
                })
                .onMessage(MmuNotification.class, other -> Behaviors.same())
                .build());
    }
}
