package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;

/** A test subscriber holding no translations: it acks every start, after {@code delay} when non-zero. */
final class AutoAckSubscriber {
    private AutoAckSubscriber() {
    }

    static Behavior<MmuNotification> create(ActorRef<MmCommand> mm, Duration delay, Duration deadline) {
        return Behaviors.setup(ctx -> {
            ActorRef<MmCommand.Registered> ignore = ctx.getSystem().ignoreRef();
            mm.tell(new MmCommand.Register(ctx.getSelf(), Interest.WHOLE_MM, 0, "auto", deadline, ignore));
            return Behaviors.withTimers(timers -> Behaviors.receive(MmuNotification.class)
                    .onMessage(MmuNotification.InvalidateStart.class, s -> {
                        NotifierReply ack = NotifierReply.Ack.clean(s.subscription(), s.batch());
                        if (delay.isZero()) {
                            s.replyTo().tell(ack);
                        } else {
                            ctx.scheduleOnce(delay, s.replyTo(), ack);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(MmuNotification.Release.class, r -> {
                        r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
                        return Behaviors.same();
                    })
                    .onMessage(MmuNotification.Fenced.class, f -> {
                        if (f.subscription() >= 0) {
                            mm.tell(new MmCommand.Register(ctx.getSelf(), Interest.WHOLE_MM, 0, "auto", deadline,
                                    ignore));
                        }
                        return Behaviors.same();
                    })
                    .onAnyMessage(m -> Behaviors.same())
                    .build());
        });
    }
}
