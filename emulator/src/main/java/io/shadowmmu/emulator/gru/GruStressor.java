package io.shadowmmu.emulator.gru;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The host side of the gru scenario for one process: one step at a time, it munmaps and remaps a few pages of the
 * region the device works on, write-protects and unprotects some, or forks the process and lets the child exit.
 */
final class GruStressor extends AbstractBehavior<GruStressor.Command> {

    interface Command {
    }

    enum Stop implements Command {
        INSTANCE
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private record Step(Object reply) implements Command {
    }

    /** Told to whoever started the stressor once it stopped: nothing it started is still running. */
    record Stopped() {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final ActorRef<MmCommand> mm;
    private final Range region;
    private final SplittableRandom random;
    private final AtomicLong ops;
    private final Deque<Runnable> steps = new ArrayDeque<>();
    private final ActorRef<Stopped> reportTo;
    private boolean busy;
    private boolean stopping;

    static Behavior<Command> create(ActorRef<MmCommand> mm, Range region, Duration interval, long seed,
                                    AtomicLong ops, ActorRef<Stopped> reportTo) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, interval);
            return new GruStressor(ctx, mm, region, seed, ops, reportTo);
        }));
    }

    private GruStressor(ActorContext<Command> context, ActorRef<MmCommand> mm, Range region, long seed,
                        AtomicLong ops, ActorRef<Stopped> reportTo) {
        super(context);
        this.reportTo = reportTo;
        this.mm = mm;
        this.region = region;
        this.random = new SplittableRandom(seed);
        this.ops = ops;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessageEquals(Stop.INSTANCE, () -> {
                    stopping = true;
                    return busy ? this : stop();
                })
                .onMessage(Step.class, s -> next())
                .build();
    }

    private Behavior<Command> onTick() {
        if (busy || stopping) {
            return this;
        }
        busy = true;
        long pages = region.pages();
        long first = random.nextLong(pages);
        long count = 1 + random.nextLong(Math.min(8, pages - first));
        long start = region.start() + first * 4096;
        long len = count * 4096;
        int op = random.nextInt(10);
        if (op < 4) {
            steps.add(() -> ask(r -> new MmCommand.Munmap(start, len, r)));
            steps.add(() -> ask(r -> new MmCommand.Mmap(start, len, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null,
                    0, r)));
        } else if (op < 8) {
            steps.add(() -> ask(r -> new MmCommand.Mprotect(start, len, Protection.READ, r)));
            steps.add(() -> ask(r -> new MmCommand.Mprotect(start, len, Protection.READ_WRITE, r)));
        } else {
            steps.add(() -> getContext().ask(MmCommand.ForkResult.class, mm, TIMEOUT,
                    r -> new MmCommand.Fork(null, r), (f, e) -> {
                        if (f != null && f.status().ok()) {
                            // The child exits before the next step: nothing of it outlives the stressor.
                            steps.addFirst(() -> getContext().ask(MmResult.class, f.child(), TIMEOUT,
                                    MmCommand.Exit::new, (x, ee) -> new Step(x)));
                        }
                        return new Step(f);
                    }));
        }
        return next();
    }

    private Behavior<Command> next() {
        Runnable step = steps.poll();
        if (step != null) {
            ops.incrementAndGet();
            step.run();
            return this;
        }
        busy = false;
        return stopping ? stop() : this;
    }

    private Behavior<Command> stop() {
        reportTo.tell(new Stopped());
        return Behaviors.stopped();
    }

    private void ask(java.util.function.Function<ActorRef<MmResult>, MmCommand> request) {
        getContext().ask(MmResult.class, mm, TIMEOUT, request::apply, (r, e) -> new Step(r));
    }
}
