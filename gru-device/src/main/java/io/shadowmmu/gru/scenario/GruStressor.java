package io.shadowmmu.gru.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The host side of the gru scenario: one operation at a time on a random chunk of a random process's memory,
 * mprotect read-only (then back), munmap (then map again at the same place), madvise(DONTNEED), or fork (the child
 * exits at once). Each runs through the notifier, so the devices keep flushing while their users access the memory.
 * A target's owner, when given, hears of each discard (munmap to the mmap that undoes it, madvise) before it starts
 * and after it is over, so its golden copy knows which words it can no longer vouch for; the stressor waits for the
 * owner to have heard, or to be gone.
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

    private record OwnerSaw(GruProcess.HostChangeSeen seen) implements Command {
    }

    private record OwnerGone(ActorRef<GruProcess.Command> owner) implements Command {
    }

    /**
     * A host process and the memory the stressor may change.
     *
     * @param owner the user process that checks the region's contents (told of discards), or null
     */
    public record Target(ActorRef<MmCommand> mm, Range region, ActorRef<GruProcess.Command> owner) {
        public Target(ActorRef<MmCommand> mm, Range region) {
            this(mm, region, null);
        }
    }

    private final List<Target> targets;
    private final int chunkPages;
    private final SplittableRandom random;
    private final ActorRef<MmResult> done;
    private final ActorRef<MmCommand.ForkResult> forked;
    private final ActorRef<GruProcess.HostChangeSeen> saw;
    private final Set<ActorRef<GruProcess.Command>> ownersGone = new HashSet<>();
    private Runnable undo;
    /** The discard waiting for its owner to have heard of it, and the owner to tell when it is over. */
    private Runnable discard;
    private ActorRef<GruProcess.Command> discardOwner;
    private Range discardRange;
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
        this.saw = context.messageAdapter(GruProcess.HostChangeSeen.class, OwnerSaw::new);
        for (Target t : this.targets) {
            if (t.owner() != null) {
                context.watchWith(t.owner(), new OwnerGone(t.owner()));
            }
        }
        next();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Done.class, d -> step(d.result().ok()))
                .onMessage(Forked.class, this::onForked)
                .onMessageEquals(ChildGone.INSTANCE, () -> step(true))
                .onMessage(OwnerSaw.class, o -> startDiscard())
                .onMessage(OwnerGone.class, g -> {
                    ownersGone.add(g.owner());
                    if (g.owner().equals(discardOwner)) {
                        discardOwner = null; // nobody left to tell
                        return startDiscard();
                    }
                    return this;
                })
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
        if (discardOwner != null) {
            discardOwner.tell(new GruProcess.HostChanged(discardRange));
            discardOwner = null;
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
            discard(t, start, length, () -> t.mm().tell(new MmCommand.Munmap(start, length, done)));
            undo = () -> t.mm().tell(new MmCommand.Mmap(start, length, Protection.READ_WRITE,
                    VmaKind.ANON_PRIVATE, null, 0, done));
        } else if (roll < 90) {
            dontneeds++;
            discard(t, start, length, () -> t.mm().tell(new MmCommand.MadviseDontneed(start, length, done)));
        } else {
            forks++;
            t.mm().tell(new MmCommand.Fork(null, forked));
        }
    }

    /** Runs {@code op} once the target's owner heard that its range is about to be discarded. */
    private void discard(Target t, long start, long length, Runnable op) {
        if (t.owner() == null || ownersGone.contains(t.owner())) {
            op.run();
            return;
        }
        discard = op;
        discardOwner = t.owner();
        discardRange = new Range(start, start + length);
        t.owner().tell(new GruProcess.HostChange(discardRange, saw));
    }

    private Behavior<Command> startDiscard() {
        Runnable op = discard;
        discard = null;
        if (op != null) {
            op.run();
        }
        return this;
    }
}
