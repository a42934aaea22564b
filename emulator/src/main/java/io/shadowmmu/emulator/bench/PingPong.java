package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Akka's own request-reply limit in this JVM: two trivial actors on the same dispatcher, one request in flight, the
 * reply sent with {@code tell} to the {@code replyTo} the request carried, a fresh message each way (as a fault and
 * its grant are). This is what a fault round trip would cost if the host did no work at all.
 */
public final class PingPong extends AbstractBehavior<PingPong.Pong> {

    public record Ping(long n, ActorRef<Pong> replyTo) {
    }

    public record Pong(long n) {
    }

    private final ActorRef<Ping> ponger;
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final CompletableFuture<Void> stopped;

    /** A load: the pinger starts at once and counts round trips until closed. */
    public static Load start(BenchHost bench) {
        LongAdder completed = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        bench.spawn(Behaviors.<Pong>setup(ctx -> new PingPong(ctx, completed, stop, stopped)), "pinger");
        return new ActorLoad(completed, stop, stopped);
    }

    private static Behavior<Ping> ponger() {
        return Behaviors.receive(Ping.class)
                .onMessage(Ping.class, p -> {
                    p.replyTo().tell(new Pong(p.n()));
                    return Behaviors.same();
                })
                .build();
    }

    private PingPong(ActorContext<Pong> context, LongAdder completed, AtomicBoolean stop,
                     CompletableFuture<Void> stopped) {
        super(context);
        this.completed = completed;
        this.stop = stop;
        this.stopped = stopped;
        this.ponger = context.spawn(ponger(), "ponger");
        ponger.tell(new Ping(0, context.getSelf()));
    }

    @Override
    public Receive<Pong> createReceive() {
        return newReceiveBuilder().onMessage(Pong.class, this::onPong).build();
    }

    private Behavior<Pong> onPong(Pong p) {
        completed.increment();
        if (stop.get()) {
            stopped.complete(null);
            return Behaviors.stopped();
        }
        ponger.tell(new Ping(p.n() + 1, getContext().getSelf()));
        return this;
    }
}
