package io.shadowmmu.gru.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.time.Duration;

/**
 * A sleeping secondary that holds nothing but takes its time: it acknowledges every invalidation start only
 * {@code delay} after it arrived (a scheduled message to itself, never a blocked thread). Under a barrier strategy
 * (RANGE) the host keeps the PTEs present until every start is acknowledged, so each invalidation of an mm it watches
 * stays open that long: the window in which another subscriber's registration must be handed the invalidation in
 * flight ({@code gru.slow-ack}, the register_unquiesced race).
 */
public final class SlowAckSubscriber extends AbstractBehavior<SlowAckSubscriber.Command> {

    public sealed interface Command {
    }

    /** Subscribe to {@code mm} (its whole range); the host's registration reply goes to {@code replyTo}. */
    public record Subscribe(ActorRef<MmCommand> mm, ActorRef<MmCommand.Registered> replyTo) implements Command {
    }

    /** Reply how many acknowledgements were held back so far. */
    public record GetCount(ActorRef<Count> replyTo) implements Command {
    }

    public record Count(long delayedAcks) {
    }

    private record Notified(MmuNotification notification) implements Command {
    }

    /** The delay of one held-back start is over. */
    private record AckDue(ActorRef<NotifierReply> replyTo, NotifierReply.Ack ack) implements Command {
    }

    private final Duration delay;
    private final ActorRef<MmuNotification> notifications;
    private long delayedAcks;

    public static Behavior<Command> create(Duration delay) {
        if (delay.isZero() || delay.isNegative()) {
            throw new IllegalArgumentException("a slow-ack subscriber needs a positive delay: " + delay);
        }
        return Behaviors.setup(ctx -> new SlowAckSubscriber(ctx, delay));
    }

    private SlowAckSubscriber(ActorContext<Command> context, Duration delay) {
        super(context);
        this.delay = delay;
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Subscribe.class, this::onSubscribe)
                .onMessage(Notified.class, n -> onNotification(n.notification()))
                .onMessage(AckDue.class, this::onAckDue)
                .onMessage(GetCount.class, g -> {
                    g.replyTo().tell(new Count(delayedAcks));
                    return this;
                })
                .build();
    }

    private Behavior<Command> onSubscribe(Subscribe s) {
        // mmu_notifier_register; the default ack deadline applies, which the settings keep above the delay.
        s.mm().tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, AgentIds.next(), "slow-ack", null,
                s.replyTo()));
        return this;
    }

    private Behavior<Command> onNotification(MmuNotification n) {
        if (n instanceof MmuNotification.InvalidateStart s) {
            if (!s.blockable()) {
                // A sleeping subscriber cannot serve a non-blockable start: -EAGAIN, the caller retries later.
                s.replyTo().tell(new NotifierReply.Nack(s.subscription(), s.batch()));
                return this;
            }
            delayedAcks++;
            getContext().scheduleOnce(delay, getContext().getSelf(),
                    new AckDue(s.replyTo(), NotifierReply.Ack.clean(s.subscription(), s.batch())));
        } else if (n instanceof MmuNotification.Release r) {
            // Nothing is held: the exit need not wait.
            r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
        } else if (n instanceof MmuNotification.ClearYoung q) {
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), false));
        } else if (n instanceof MmuNotification.TestYoung q) {
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), false));
        }
        // InvalidateEnd: nothing to do. Fenced: the subscription is gone, and so is its part in any barrier.
        return this;
    }

    private Behavior<Command> onAckDue(AckDue d) {
        d.replyTo().tell(d.ack());
        return this;
    }
}
