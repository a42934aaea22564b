package io.shadowmmu.gru.scenario;

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

import java.util.List;
import java.util.SplittableRandom;

/**
 * The host side of the gru scenario: one operation at a time on a random chunk of a random process's memory,
 * mprotect read-only (then back), munmap (then map again at the same place), madvise(DONTNEED), or fork (the child
 * exits at once). Each runs through the notifier, so the devices keep flushing while their users access the memory.
 */
public final class GruStressor extends AbstractBehavior<GruStressor.Command> {

    public sealed interface Command {
    }

    /** Finish the operation in flight, then reply the counts. */
    public record Stop(ActorRef<Counts> replyTo) implements Command {
    }

    public record Counts(long mprotects, long munmaps, long dontneeds, long forks, long failed) {
        /** These and {@code other} summed (the scenario runs one stressor per process under slow acks). */
        public Counts plus(Counts other) {
            return new Counts(mprotects + other.mprotects, munmaps + other.munmaps, dontneeds + other.dontneeds,
                    forks + other.forks, failed + other.failed);
        }
    }

    private record Done(MmResult result) implements Command {
    }

    private record Forked(MmCommand.ForkResult result) implements Command {
    }

    private enum ChildGone implements Command {
        INSTANCE
    }

    /** A host process and the memory the stressor may change. */
    public record Target(ActorRef<MmCommand> mm, Range region) {
    }

    private final List<Target> targets;
    private final int chunkPages;
    private final SplittableRandom random;
    private final ActorRef<MmResult> done;
    private final ActorRef<MmCommand.ForkResult> forked;
    private Runnable undo;
    private ActorRef<Counts> stopTo;
    private long mprotects;
    private long munmaps;
    private long dontneeds;
    private long forks;
    private long failed;

    public static Behavior<Command> create(List<Target> targets, int chunkPages, long seed) {
        return Behaviors.setup(ctx -> new GruStressor(ctx, targets, chunkPages, seed));
    }

    private GruStressor(ActorContext<Command> context, List<Target> targets, int chunkPages, long seed) {
        super(context);
        this.targets = List.copyOf(targets);
        this.chunkPages = chunkPages;
        this.random = new SplittableRandom(seed);
        this.done = context.messageAdapter(MmResult.class, Done::new);
        this.forked = context.messageAdapter(MmCommand.ForkResult.class, Forked::new);
        next();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Done.class, d -> step(d.result().ok()))
                .onMessage(Forked.class, this::onForked)
                .onMessageEquals(ChildGone.INSTANCE, () -> step(true))
                .onMessage(Stop.class, s -> {
                    stopTo = s.replyTo();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onForked(Forked f) {
        if (f.result().status().ok() && f.result().child() != null) {
            // The next step waits until the child is gone, so no host-wide audit asks a process that is exiting.
            getContext().watchWith(f.result().child(), ChildGone.INSTANCE);
            f.result().child().tell(new MmCommand.Exit(getContext().getSystem().ignoreRef()));
            return this;
        }
        return step(false);
    }

    private Behavior<Command> step(boolean ok) {
        if (!ok) {
            failed++;
        }
        if (undo != null) {
            Runnable u = undo;
            undo = null;
            u.run(); // restore before stopping, so the processes get their memory back
            return this;
        }
        if (stopTo != null) {
            stopTo.tell(new Counts(mprotects, munmaps, dontneeds, forks, failed));
            return Behaviors.stopped();
        }
        next();
        return this;
    }

    private void next() {
        Target t = targets.get(random.nextInt(targets.size()));
        long regionPages = t.region().pages();
        long pages = Math.min(chunkPages, regionPages);
        long start = t.region().start() + random.nextLong(regionPages - pages + 1) * Range.PAGE_SIZE;
        long length = pages * Range.PAGE_SIZE;
        int roll = random.nextInt(100);
        if (roll < 35) {
            mprotects++;
            t.mm().tell(new MmCommand.Mprotect(start, length, Protection.READ, done));
            undo = () -> t.mm().tell(new MmCommand.Mprotect(start, length, Protection.READ_WRITE, done));
        } else if (roll < 65) {
            munmaps++;
            t.mm().tell(new MmCommand.Munmap(start, length, done));
            undo = () -> t.mm().tell(new MmCommand.Mmap(start, length, Protection.READ_WRITE,
                    VmaKind.ANON_PRIVATE, null, 0, done));
        } else if (roll < 90) {
            dontneeds++;
            t.mm().tell(new MmCommand.MadviseDontneed(start, length, done));
        } else {
            forks++;
            t.mm().tell(new MmCommand.Fork(null, forked));
        }
    }
}
