package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.mm.MmActor;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmIds;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.vma.Protection;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The delivery comparison in actor mode: {@code processes} MmActors (GATHER delivery), each with its subscribers as
 * actors and {@code workers} worker actors discarding and refaulting their own pages. While one operation waits for a
 * sleeping subscriber, the mm serves the others.
 */
final class ActorDelivery extends AbstractBehavior<ActorDelivery.Command> {

    interface Command {
    }

    private record Mapped(int process, MmResult result) implements Command {
    }

    private record Subscribed(MmCommand.Registered registered) implements Command {
    }

    private enum WorkerStopped implements Command, DeliveryWorker.Done {
        INSTANCE
    }

    private record Exited(MmResult result) implements Command {
    }

    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

    private final BenchSizes sizes;
    private final SubscriberKind kind;
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final CompletableFuture<Void> stopped;
    private final List<ActorRef<MmCommand>> mms = new ArrayList<>();
    private final long[] bases;
    private int pending;

    static Load start(BenchHost bench, BenchSizes sizes, SubscriberKind kind) {
        LongAdder completed = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        bench.spawn(Behaviors.<Command>setup(ctx -> new ActorDelivery(ctx, bench, sizes, kind, completed, stop,
                stopped)), "actor-delivery");
        return new ActorLoad(completed, stop, stopped);
    }

    private ActorDelivery(ActorContext<Command> context, BenchHost bench, BenchSizes sizes, SubscriberKind kind,
                          LongAdder completed, AtomicBoolean stop, CompletableFuture<Void> stopped) {
        super(context);
        this.sizes = sizes;
        this.kind = kind;
        this.completed = completed;
        this.stop = stop;
        this.stopped = stopped;
        this.bases = new long[sizes.processes()];
        long length = (long) sizes.workersPerProcess() * sizes.pagesPerOp() * PageTable.PAGE_SIZE;
        pending = sizes.processes() * (1 + kind.ackDelays.size());
        for (int p = 0; p < sizes.processes(); p++) {
            ActorRef<MmCommand> mm = context.spawn(MmActor.create(bench.host(), bench.hostActor(), MmIds.next(),
                    "delivery-" + p), "mm-" + p);
            mms.add(mm);
            int process = p;
            // ask, not a message adapter: an actor has one adapter per reply class, and each mm's reply must name it
            context.ask(MmResult.class, mm, SETUP_TIMEOUT, r -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE,
                    r), (r, failure) -> new Mapped(process, r != null ? r : new MmResult.Failed(
                    io.shadowmmu.hostmm.mm.Errno.EAGAIN, String.valueOf(failure))));
            int s = 0;
            for (Duration delay : kind.ackDelays) {
                mm.tell(new MmCommand.Register(context.spawn(BenchSubscriber.create(delay, bench.ackTimer()),
                        "sub-" + p + "-" + s++),
                        Interest.WHOLE_MM, 0, "bench-subscriber", null,
                        context.messageAdapter(MmCommand.Registered.class, Subscribed::new)));
            }
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Mapped.class, m -> {
                    if (!m.result().ok()) {
                        throw new IllegalStateException("delivery mmap failed: " + m.result());
                    }
                    bases[m.process()] = ((MmResult.Done) m.result()).value();
                    return ready();
                })
                .onMessage(Subscribed.class, s -> ready())
                .onMessageEquals(WorkerStopped.INSTANCE, this::onWorkerStopped)
                .onMessage(Exited.class, e -> {
                    if (--pending == 0) {
                        stopped.complete(null);
                        return Behaviors.stopped();
                    }
                    return this;
                })
                .build();
    }

    /** Once every mm is mapped and every subscriber registered, the workers start. */
    private Behavior<Command> ready() {
        if (--pending > 0) {
            return this;
        }
        ActorRef<DeliveryWorker.Done> done = getContext().messageAdapter(DeliveryWorker.Done.class,
                d -> WorkerStopped.INSTANCE);
        long opBytes = sizes.pagesPerOp() * PageTable.PAGE_SIZE;
        for (int p = 0; p < mms.size(); p++) {
            for (int w = 0; w < sizes.workersPerProcess(); w++) {
                getContext().spawn(DeliveryWorker.create(mms.get(p), bases[p] + w * opBytes, sizes.pagesPerOp(),
                        completed, stop, done, WorkerStopped.INSTANCE), "worker-" + p + "-" + w);
            }
        }
        pending = mms.size() * sizes.workersPerProcess();
        return this;
    }

    private Behavior<Command> onWorkerStopped() {
        if (--pending > 0) {
            return this;
        }
        pending = mms.size();
        ActorRef<MmResult> exited = getContext().messageAdapter(MmResult.class, Exited::new);
        for (ActorRef<MmCommand> mm : mms) {
            mm.tell(new MmCommand.Exit(exited));
        }
        return this;
    }
}
