package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.ExtensibleBehavior;
import akka.actor.typed.Signal;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.MmNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One host process's memory manager ({@code mm_struct}). Its mailbox is the page-table lock: PTEs change only inside
 * its handlers. It delivers notifier callbacks as messages, and a frame whose PTE it cleared is freed only once every
 * subscriber that may cache a translation of it acknowledged or was fenced (DESIGN.md principle 3).
 *
 * <p>This class is the dispatch: it hands each message to its typed handler, and decides what waits. Under a barrier
 * strategy (RANGE) the mm stashes every system call and fault until the subscribers acked (the "sleeping"
 * invalidation); under GATHER it goes on serving other work and parks only the faults that hit a range still in
 * flight. The work itself is elsewhere: faults in {@link FaultHandler}, system calls in {@link Syscalls}, what the
 * pressure daemons ask in {@link PressureOps}, and the notifier machinery (subscriptions, batches, deadlines, fences,
 * aging queries) in {@link MmNotifier}. An mm with no subscriber never enters the notifier path.
 */
public final class MmActor extends ExtensibleBehavior<MmCommand> {

    private static final int STASH_CAPACITY = 1_000_000;

    private final ActorContext<MmCommand> context;

    private final ActorRef<HostCommand> hostActor;
    private final AddressSpace space;
    private final MmCounters counters;
    private final StashBuffer<MmCommand> stash;
    private final MmNotifier notifier;
    private final FaultHandler faults;
    private final Syscalls syscalls;
    private final PressureOps pressure;
    /** Every message's typed handler; none of them decides what the actor becomes next (see {@link #next()}). */
    private final HandlerTable<MmCommand> handlers = new HandlerTable<>();
    /** What each kind of work answers once the process has exited. */
    private final HandlerTable<MmCommand> refusals = new HandlerTable<>();

    /** Commands waiting for a batch to complete: faults on a range in flight, callers of a change. */
    private final Map<Long, List<MmCommand>> parked = new HashMap<>();
    private boolean unstashPending;

    /**
     * The benchmark baseline for "zero overhead before anybody subscribes": the notifier is skipped entirely (no
     * subscription or batch bookkeeping is consulted, registration is refused), as if it were compiled out.
     */
    private final boolean notifierBypassed;

    private final List<ActorRef<MmResult>> exitWaiters = new ArrayList<>();
    private boolean exiting;
    private boolean tornDown;

    /** A fresh, empty process. */
    public static Behavior<MmCommand> create(HostContext host, ActorRef<HostCommand> hostActor, long mm, String name) {
        return Behaviors.setup(ctx -> {
            MmCounters counters = new MmCounters();
            AddressSpace space = new AddressSpace(mm, AgentIds.next(), name, host.memory(), host.rmap(),
                    host.swap(), counters);
            return start(ctx, host, hostActor, space, false);
        });
    }

    /**
     * A fresh process whose mm has the notifier bypassed: the same code with every notifier step skipped, so a
     * benchmark can measure what the notifier costs an mm nobody subscribed to. Registration is refused (the
     * subscriber is told Fenced). Never used by the emulator's scenarios.
     */
    public static Behavior<MmCommand> createWithoutNotifier(HostContext host, ActorRef<HostCommand> hostActor,
                                                            long mm, String name) {
        return Behaviors.setup(ctx -> {
            MmCounters counters = new MmCounters();
            AddressSpace space = new AddressSpace(mm, AgentIds.next(), name, host.memory(), host.rmap(),
                    host.swap(), counters);
            return start(ctx, host, hostActor, space, true);
        });
    }

    /** A forked child whose address space the parent already copied. */
    public static Behavior<MmCommand> createForked(HostContext host, ActorRef<HostCommand> hostActor,
                                                   ForkedChild child) {
        return Behaviors.setup(ctx -> start(ctx, host, hostActor, child.space, false));
    }

    private static Behavior<MmCommand> start(ActorContext<MmCommand> ctx, HostContext host,
                                             ActorRef<HostCommand> hostActor, AddressSpace space,
                                             boolean notifierBypassed) {
        return Behaviors.withStash(STASH_CAPACITY, stash -> Behaviors.withTimers(timers ->
                new MmActor(ctx, host, hostActor, space, stash, timers, notifierBypassed)));
    }

    private MmActor(ActorContext<MmCommand> context, HostContext host, ActorRef<HostCommand> hostActor,
                    AddressSpace space, StashBuffer<MmCommand> stash, TimerScheduler<MmCommand> timers,
                    boolean notifierBypassed) {
        this.context = context;
        this.notifierBypassed = notifierBypassed;
        this.hostActor = hostActor;
        this.space = space;
        this.counters = space.counters();
        this.stash = stash;
        Gather gather = new Gather();
        this.notifier = new MmNotifier(context, timers, space, host.memory(), host.events(),
                host.settings().notifier(), host.settings().variant(), gather, this::batchCompleted);
        MmParts parts = new MmParts(context, timers, host, hostActor, space, notifier, gather, this::park,
                notifierBypassed);
        this.faults = new FaultHandler(parts);
        this.syscalls = new Syscalls(parts);
        this.pressure = new PressureOps(parts, syscalls);
        addHandlers(handlers, refusals);
        host.events().agentNamed(space.agent(), "mm " + space.id() + " (" + space.name() + ")");
        for (MemFile file : space.mappedFiles()) {
            file.attach(space.id(), context.getSelf());
        }
    }

    /**
     * Every message goes straight to {@link #handle}: the handlers are found by class there, so Akka's javadsl
     * receive (which tries its cases one by one and allocates an {@code OptionVal} per message, issue 16) has
     * nothing left to do.
     */
    @Override
    public Behavior<MmCommand> receive(TypedActorContext<MmCommand> ctx, MmCommand msg) {
        handle(msg);
        return next();
    }

    /** The mm reacts to no signal: its watches deliver {@code SubscriberDied} messages instead. */
    @Override
    public Behavior<MmCommand> receiveSignal(TypedActorContext<MmCommand> ctx, Signal signal) {
        return Behaviors.unhandled();
    }

    // ---- dispatch --------------------------------------------------------------------------------------------------

    /**
     * One typed handler per message. Work waits in the stash while a barrier holds the "mmap lock" and is refused
     * once the process exited; registration, statistics and the audit are served at once, and so are the
     * notifier's own messages (replies, deadlines): they are what lifts a barrier.
     */
    private void addHandlers(HandlerTable<MmCommand> work, HandlerTable<MmCommand> refuse) {
        // The fault path first: it is the hot one.
        gated(work, refuse, MmCommand.Access.class, faults::access, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.Accesses.class, faults::accesses, m -> m.replyTo().tell(gone()));
        gated(work, refuse, FaultHandler.AccessesFrom.class, faults::resume, r -> r.cmd.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.GetUserPage.class, faults::getUserPage,
                g -> g.replyTo().tell(new PageReply.Denied(g.va(), Errno.ESRCH, gone().detail())));
        notifier.addHandlers(work);
        gated(work, refuse, FaultHandler.RetryFault.class, r -> faults.retry(r, this::handle),
                r -> refuse(r.cause()));
        served(work, MmCommand.Register.class, this::onRegister);
        served(work, MmCommand.Unregister.class, notifier::unregister);
        served(work, MmCommand.GetStats.class, this::onGetStats);
        served(work, MmCommand.GetFrameAudit.class, this::onFrameAudit);

        gated(work, refuse, MmCommand.Mmap.class, syscalls::mmap, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.Munmap.class, syscalls::munmap, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.Mprotect.class, syscalls::mprotect, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.MadviseDontneed.class, syscalls::dontneed, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.UnmapFileRange.class, syscalls::unmapFileRange,
                m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.Fork.class, syscalls::fork,
                f -> f.replyTo().tell(new MmCommand.ForkResult(gone(), -1, null)));
        gated(work, refuse, MmCommand.OomReap.class, syscalls::oomReap, m -> m.replyTo().tell(gone()));
        gated(work, refuse, Syscalls.RetryReap.class, syscalls::retryReap,
                r -> r.replyTo().tell(new MmResult.Failed(Errno.ESRCH, "process exited")));
        gated(work, refuse, MmCommand.Exit.class, this::onExit, e -> exitWaiters.add(e.replyTo()));

        gated(work, refuse, MmCommand.Age.class, pressure::age,
                a -> a.replyTo().tell(new MmCommand.AgeResult(a.range(), false, 0)));
        gated(work, refuse, MmCommand.MovePages.class, pressure::movePages, m -> m.replyTo().tell(gone()));
        gated(work, refuse, MmCommand.MadvisePageout.class, pressure::pageout, m -> m.replyTo().tell(gone()));
        // A daemon waiting on one of these answers may hold the frame: tell it at once that nothing was done.
        gated(work, refuse, MmCommand.SwapOutPage.class, pressure::swapOut, c -> c.replyTo().tell(nothingDone()));
        gated(work, refuse, MmCommand.SwapOutShared.class, pressure::swapOutShared,
                c -> c.replyTo().tell(nothingDone()));
        gated(work, refuse, MmCommand.UnmapFilePages.class, pressure::unmapFilePages,
                c -> c.replyTo().tell(nothingDone()));
        gated(work, refuse, MmCommand.MigratePage.class, pressure::migrate, c -> c.replyTo().tell(nothingDone()));
        gated(work, refuse, MmCommand.KsmWriteProtect.class, pressure::ksmWriteProtect,
                c -> c.replyTo().tell(nothingDone()));
        gated(work, refuse, MmCommand.KsmMerge.class, pressure::ksmMerge, c -> c.replyTo().tell(nothingDone()));

    }

    /** Work that waits behind a barrier and is refused once the process exited. */
    private <M extends MmCommand> void gated(HandlerTable<MmCommand> work, HandlerTable<MmCommand> refuse,
                                             Class<M> type, Consumer<M> handler, Consumer<M> refusal) {
        work.on(type, m -> {
            if (notifier.barrierActive()) {
                // A barrier invalidation is in flight: the "mmap lock" is held, everything else waits its turn.
                stash.stash(m);
            } else if (exiting) {
                refusal.accept(m);
            } else {
                handler.accept(m);
            }
        });
        refuse.on(type, refusal);
    }

    /** Served whatever the mm is doing. */
    private static <M extends MmCommand> void served(HandlerTable<MmCommand> work, Class<M> type,
                                                     Consumer<M> handler) {
        work.on(type, handler);
    }

    /** Runs {@code msg}'s handler now: a fresh message, or one that waited (parked, or retried after a wait). */
    private void handle(MmCommand msg) {
        if (!handlers.handle(msg)) {
            context.getLog().warn("mm {}: unexpected message {}", space.id(), msg);
        }
    }

    private void refuse(MmCommand msg) {
        refusals.handle(msg); // nothing to answer for a message nobody refuses
    }

    private Behavior<MmCommand> next() {
        if (unstashPending && !notifier.barrierActive()) {
            unstashPending = false;
            // Stashed commands run now, in arrival order, before anything still in the mailbox.
            return stash.unstashAll(this);
        }
        if (exiting && tornDown && notifier.idle()) {
            // The host hears first: whoever learns of the exit from our reply and asks the host next finds it done.
            hostActor.tell(new HostActor.MmExited(space.id()));
            for (ActorRef<MmResult> w : exitWaiters) {
                w.tell(MmResult.Done.ZERO);
            }
            return Behaviors.stopped();
        }
        return this;
    }

    private MmResult.Failed gone() {
        return new MmResult.Failed(Errno.ESRCH, "process " + space.name() + " has exited");
    }

    private MmCommand.PressureDone nothingDone() {
        return new MmCommand.PressureDone(space.id(), -1, false, gone().detail());
    }

    private void park(long batch, MmCommand cmd) {
        parked.computeIfAbsent(batch, k -> new ArrayList<>(2)).add(cmd);
    }

    /** A batch completed: a lifted barrier lets the stash run, and the faults that waited for it retry. */
    private void batchCompleted(long batch) {
        if (!notifier.barrierActive() && !stash.isEmpty()) {
            unstashPending = true;
        }
        // Checked first: most batches have nothing parked, and the lookup would box the id.
        List<MmCommand> waiting = parked.isEmpty() ? null : parked.remove(batch);
        if (waiting != null) {
            // The faults that waited for this batch retry now, ahead of anything that arrived after them.
            for (MmCommand c : waiting) {
                handle(c);
            }
        }
    }

    // ---- lifecycle ------------------------------------------------------------------------------------------------

    private void onExit(MmCommand.Exit e) {
        exiting = true;
        exitWaiters.add(e.replyTo());
        notifier.release(this::teardown);
    }

    /** exit_mmap, once every subscriber released: what still waited is refused. */
    private void teardown() {
        syscalls.teardown();
        tornDown = true;
        for (List<MmCommand> waiting : parked.values()) {
            for (MmCommand c : waiting) {
                refuse(c);
            }
        }
        parked.clear();
    }

    // ---- registration and inspection ------------------------------------------------------------------------------

    private void onRegister(MmCommand.Register r) {
        if (notifierBypassed) {
            r.subscriber().tell(new MmuNotification.Fenced(-1, space.id(), "mm " + space.name()
                    + " runs with the notifier bypassed (benchmark baseline)"));
            return;
        }
        if (exiting) {
            r.subscriber().tell(new MmuNotification.Fenced(-1, space.id(), "process " + space.name() + " has exited"));
            return;
        }
        notifier.register(r);
    }

    private void onGetStats(MmCommand.GetStats g) {
        g.replyTo().tell(counters.snapshot(space.id(), space.name(), space.mappedPages(), notifier.heldFrames(),
                notifier.subscriberCount()));
    }

    private void onFrameAudit(MmCommand.GetFrameAudit g) {
        g.replyTo().tell(new MmCommand.FrameAudit(space.id(), space.mappedFrames(), notifier.heldPfns()));
    }
}
