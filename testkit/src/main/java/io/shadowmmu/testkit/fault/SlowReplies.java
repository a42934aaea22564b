package io.shadowmmu.testkit.fault;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;

/** Stands between a subscriber and one of the host's reply addresses: every reply arrives {@code delay} later. */
final class SlowReplies {
    private SlowReplies() {
    }

    static Behavior<NotifierReply> create(ActorRef<NotifierReply> host, Duration delay, FaultCounters counters) {
        return Behaviors.setup(ctx -> Behaviors.receive(NotifierReply.class).onAnyMessage(reply -> {
            counters.slowReplies.incrementAndGet();
            ctx.scheduleOnce(delay, host, reply);
            return Behaviors.same();
        }).build());
    }
}
