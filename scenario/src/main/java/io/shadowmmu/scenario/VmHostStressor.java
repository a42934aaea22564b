package io.shadowmmu.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.SplittableRandom;

/**
 * The host side of a VM scenario: in rounds, it asks the guest for ballooned pages (which the guest promises not to
 * use), then discards (madvise DONTNEED), unmaps and remaps, or write-protects and unprotects their host pages, hands
 * them back; it moves (move_pages) or pages out (MADV_PAGEOUT) a run of guest pages the guest may be using; and every
 * few rounds it forks the VMM process and lets the child exit (copy-on-write over all guest RAM). Every one of these
 * invalidates translations the VM may hold; none changes what the guest reads.
 */
public final class VmHostStressor extends AbstractBehavior<VmHostStressor.Command> {

    public interface Command {
    }

    public enum Stop implements Command {
        INSTANCE
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private record Ballooned(GuestVm.Ballooned pages) implements Command {
    }

    private record Step(Object reply) implements Command {
    }

    /** What one stressor did; {@code moves} and {@code pageouts} count runs of live pages. */
    public record Done(int vm, long rounds, long dontneeds, long remaps, long protects, long forks, long failures,
                       long moves, long pageouts) {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final int index;
    private final ActorRef<GuestVm.Command> vm;
    private final ActorRef<MmCommand> vmm;
    private final long hvaBase;
    private final long guestBytes;
    private final StressSpec params;
    private final ActorRef<Done> reportTo;
    private final SplittableRandom random;
    private final Deque<Runnable> steps = new ArrayDeque<>();
    private boolean stopping;
    private boolean busy;
    private long rounds;
    private long dontneeds;
    private long remaps;
    private long protects;
    private long forks;
    private long failures;
    private long moves;
    private long pageouts;

    /**
     * @param hvaBase    where the VM's guest RAM starts in the VMM process
     * @param guestBytes size of guest RAM, where live pages are picked
     */
    public static Behavior<Command> create(int index, ActorRef<GuestVm.Command> vm, ActorRef<MmCommand> vmm,
                                           long hvaBase, long guestBytes, StressSpec params, long seed,
                                           ActorRef<Done> reportTo) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, params.interval().isZero()
                    ? Duration.ofMillis(1) : params.interval());
            return new VmHostStressor(ctx, index, vm, vmm, hvaBase, guestBytes, params, seed, reportTo);
        }));
    }

    private VmHostStressor(ActorContext<Command> context, int index, ActorRef<GuestVm.Command> vm,
                           ActorRef<MmCommand> vmm, long hvaBase, long guestBytes, StressSpec params, long seed,
                           ActorRef<Done> reportTo) {
        super(context);
        this.index = index;
        this.vm = vm;
        this.vmm = vmm;
        this.hvaBase = hvaBase;
        this.guestBytes = guestBytes;
        this.params = params;
        this.random = new SplittableRandom(seed);
        this.reportTo = reportTo;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessageEquals(Stop.INSTANCE, () -> {
                    stopping = true;
                    return busy ? this : finish();
                })
                .onMessage(Ballooned.class, this::onBallooned)
                .onMessage(Step.class, s -> {
                    if (s.reply() instanceof MmResult && !((MmResult) s.reply()).ok()) {
                        failures++;
                    }
                    return nextStep();
                })
                .build();
    }

    private Behavior<Command> onTick() {
        if (busy || stopping) {
            return this;
        }
        busy = true;
        rounds++;
        getContext().ask(GuestVm.Ballooned.class, vm, TIMEOUT,
                r -> new GuestVm.InflateBalloon(params.balloonPages(), r), (b, f) -> new Ballooned(b));
        return this;
    }

    private void fork() {
        forks++;
        getContext().ask(MmCommand.ForkResult.class, vmm, TIMEOUT, r -> new MmCommand.Fork("vmm-child", r),
                (result, failure) -> {
                    if (result != null && result.status().ok()) {
                        // The child exits before the next step: its copy of guest RAM goes, the parent keeps
                        // COW-marked pages, and nothing of it outlives the stressor.
                        steps.addFirst(() -> getContext().ask(MmResult.class, result.child(), TIMEOUT,
                                MmCommand.Exit::new, (x, f) -> new Step(x)));
                    }
                    return new Step(null);
                });
    }

    private Behavior<Command> onBallooned(Ballooned b) {
        long[] gfns = b.pages() == null ? new long[0] : b.pages().gfns();
        for (long gfn : gfns) {
            long hva = hvaBase + gfn * 4096;
            int op = random.nextInt(3);
            if (op == 0) {
                dontneeds++;
                steps.add(() -> ask(r -> new MmCommand.MadviseDontneed(hva, 4096, r)));
            } else if (op == 1) {
                remaps++;
                steps.add(() -> ask(r -> new MmCommand.Munmap(hva, 4096, r)));
                steps.add(() -> ask(r -> new MmCommand.Mmap(hva, 4096, Protection.READ_WRITE, VmaKind.ANON_PRIVATE,
                        null, 0, r)));
            } else {
                protects++;
                steps.add(() -> ask(r -> new MmCommand.Mprotect(hva, 4096, Protection.READ, r)));
                steps.add(() -> ask(r -> new MmCommand.Mprotect(hva, 4096, Protection.READ_WRITE, r)));
            }
        }
        if (params.livePages() > 0) {
            // Pages the guest may be using right now: moved or paged out, contents kept, translations revoked.
            long frames = guestBytes / 4096;
            long length = Math.min(params.livePages(), frames) * 4096;
            long hva = hvaBase + random.nextLong(frames - length / 4096 + 1) * 4096;
            if (random.nextBoolean()) {
                moves++;
                steps.add(() -> ask(r -> new MmCommand.MovePages(hva, length, r)));
            } else {
                pageouts++;
                steps.add(() -> ask(r -> new MmCommand.MadvisePageout(hva, length, r)));
            }
        }
        steps.add(() -> {
            vm.tell(new GuestVm.DeflateBalloon(gfns));
            getContext().getSelf().tell(new Step(null));
        });
        if (params.forkEvery() > 0 && rounds % params.forkEvery() == 0) {
            steps.add(this::fork);
        }
        return nextStep();
    }

    private Behavior<Command> nextStep() {
        Runnable step = steps.poll();
        if (step != null) {
            step.run();
            return this;
        }
        busy = false;
        return stopping ? finish() : this;
    }

    private void ask(java.util.function.Function<ActorRef<MmResult>, MmCommand> request) {
        getContext().ask(MmResult.class, vmm, TIMEOUT, request::apply, (r, f) -> new Step(r));
    }

    private Behavior<Command> finish() {
        reportTo.tell(new Done(index, rounds, dontneeds, remaps, protects, forks, failures, moves, pageouts));
        return Behaviors.stopped();
    }
}
