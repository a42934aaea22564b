package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.config.NotifierSettings;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.Batch;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.Vma;
import io.shadowmmu.hostmm.vma.VmaKind;

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
 * <p>Under a barrier strategy (RANGE) the mm stashes every system call and fault until the subscribers acked (the
 * "sleeping" invalidation); under GATHER it goes on serving other work and parks only the faults that hit a range
 * still in flight. An mm with no subscriber never enters the notifier path. The notifier machinery (subscriptions,
 * batches, deadlines, fences, aging queries) is {@link MmNotifier}'s; this class owns the address space's operations.
 */
public final class MmActor extends AbstractBehavior<MmCommand> {

    private record RetryReap(ActorRef<MmResult> replyTo, int attempt) implements MmCommand.Internal {
    }

    /** A fault that found no free frame, tried again once reclaim had time to free some. */
    private record RetryFault(MmCommand cause, int attempt) implements MmCommand.Internal {
    }

    private static final int STASH_CAPACITY = 1_000_000;
    private static final int MAX_REAP_ATTEMPTS = 20;

    private final HostContext host;
    private final ActorRef<HostCommand> hostActor;
    private final AddressSpace space;
    private final MmCounters counters;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final NotifierSettings settings;
    private final StashBuffer<MmCommand> stash;
    private final TimerScheduler<MmCommand> timers;
    private final Gather gather = new Gather();
    private final MmNotifier notifier;
    /** Longest delay of a delayed get_user_pages answer in nanoseconds; 0: every answer goes at once. */
    private final long replyJitterNanos;
    private final double replyJitterFraction;
    private final java.util.SplittableRandom replyJitter;

    /** Commands waiting for a batch to complete: faults on a range in flight, callers of a change. */
    private final Map<Long, List<MmCommand>> parked = new HashMap<>();
    private boolean unstashPending;
    /** Attempt number of the fault being re-run after an out-of-memory wait; 0 for a fresh one. */
    private int faultAttempt;

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
        super(context);
        this.notifierBypassed = notifierBypassed;
        this.host = host;
        this.hostActor = hostActor;
        this.space = space;
        this.counters = space.counters();
        this.memory = host.memory();
        this.events = host.events();
        this.settings = host.settings().notifier();
        this.replyJitterNanos = host.settings().host().faultReplyJitter().toNanos();
        this.replyJitterFraction = host.settings().host().faultReplyJitterFraction();
        this.replyJitter = new java.util.SplittableRandom(host.settings().seed() * 0x9E3779B97F4A7C15L + space.id());
        this.stash = stash;
        this.timers = timers;
        this.notifier = new MmNotifier(context, timers, space, memory, events, settings, host.settings().variant(),
                gather, this::batchCompleted);
        events.agentNamed(space.agent(), "mm " + space.id() + " (" + space.name() + ")");
        for (MemFile file : space.mappedFiles()) {
            file.attach(space.id(), context.getSelf());
        }
    }

    @Override
    public Receive<MmCommand> createReceive() {
        return newReceiveBuilder().onMessage(MmCommand.class, this::dispatch).build();
    }

    // ---- dispatch --------------------------------------------------------------------------------------------------

    private Behavior<MmCommand> dispatch(MmCommand msg) {
        route(msg);
        return next();
    }

    private void route(MmCommand msg) {
        if (msg instanceof MmCommand.Internal) {
            onInternal((MmCommand.Internal) msg);
        } else if (msg instanceof MmCommand.Register) {
            onRegister((MmCommand.Register) msg);
        } else if (msg instanceof MmCommand.Unregister) {
            notifier.unregister((MmCommand.Unregister) msg);
        } else if (msg instanceof MmCommand.GetStats) {
            onGetStats((MmCommand.GetStats) msg);
        } else if (msg instanceof MmCommand.GetFrameAudit) {
            onFrameAudit((MmCommand.GetFrameAudit) msg);
        } else if (notifier.barrierActive()) {
            // A barrier invalidation is in flight: the "mmap lock" is held, everything else waits its turn.
            stash.stash(msg);
        } else if (exiting) {
            refuseExited(msg);
        } else {
            onWork(msg);
        }
    }

    private void onWork(MmCommand msg) {
        if (msg instanceof MmCommand.Access) {
            onAccess((MmCommand.Access) msg);
        } else if (msg instanceof MmCommand.GetUserPage) {
            onGetUserPage((MmCommand.GetUserPage) msg);
        } else if (msg instanceof MmCommand.Mmap) {
            onMmap((MmCommand.Mmap) msg);
        } else if (msg instanceof MmCommand.Munmap) {
            onMunmap((MmCommand.Munmap) msg);
        } else if (msg instanceof MmCommand.Mprotect) {
            onMprotect((MmCommand.Mprotect) msg);
        } else if (msg instanceof MmCommand.MadviseDontneed) {
            onDontneed((MmCommand.MadviseDontneed) msg);
        } else if (msg instanceof MmCommand.MovePages) {
            onMovePages((MmCommand.MovePages) msg);
        } else if (msg instanceof MmCommand.MadvisePageout) {
            onPageout((MmCommand.MadvisePageout) msg);
        } else if (msg instanceof MmCommand.Fork) {
            onFork((MmCommand.Fork) msg);
        } else if (msg instanceof MmCommand.UnmapFileRange) {
            onUnmapFileRange((MmCommand.UnmapFileRange) msg);
        } else if (msg instanceof MmCommand.OomReap) {
            onOomReap(((MmCommand.OomReap) msg).replyTo(), 1);
        } else if (msg instanceof MmCommand.Age) {
            notifier.age((MmCommand.Age) msg);
        } else if (msg instanceof MmCommand.SwapOutPage) {
            onSwapOut((MmCommand.SwapOutPage) msg);
        } else if (msg instanceof MmCommand.SwapOutShared) {
            onSwapOutShared((MmCommand.SwapOutShared) msg);
        } else if (msg instanceof MmCommand.UnmapFilePages) {
            onUnmapFilePages((MmCommand.UnmapFilePages) msg);
        } else if (msg instanceof MmCommand.MigratePage) {
            onMigrate((MmCommand.MigratePage) msg);
        } else if (msg instanceof MmCommand.KsmWriteProtect) {
            onKsmWriteProtect((MmCommand.KsmWriteProtect) msg);
        } else if (msg instanceof MmCommand.KsmMerge) {
            onKsmMerge((MmCommand.KsmMerge) msg);
        } else if (msg instanceof MmCommand.Exit) {
            onExit((MmCommand.Exit) msg);
        } else {
            getContext().getLog().warn("mm {}: unexpected message {}", space.id(), msg);
        }
    }

    private void onInternal(MmCommand.Internal msg) {
        if (notifier.onInternal(msg)) {
            return;
        }
        if (msg instanceof RetryFault) {
            RetryFault r = (RetryFault) msg;
            if (notifier.barrierActive()) {
                stash.stash(msg);
            } else {
                faultAttempt = r.attempt();
                route(r.cause());
                faultAttempt = 0;
            }
        } else if (msg instanceof RetryReap) {
            RetryReap r = (RetryReap) msg;
            if (notifier.barrierActive()) {
                stash.stash(msg);
            } else if (!exiting) {
                onOomReap(r.replyTo(), r.attempt());
            } else {
                r.replyTo().tell(new MmResult.Failed(Errno.ESRCH, "process exited"));
            }
        }
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

    private void refuseExited(MmCommand msg) {
        MmResult.Failed gone = new MmResult.Failed(Errno.ESRCH, "process " + space.name() + " has exited");
        if (msg instanceof MmCommand.Exit) {
            exitWaiters.add(((MmCommand.Exit) msg).replyTo());
        } else if (msg instanceof MmCommand.GetUserPage) {
            MmCommand.GetUserPage g = (MmCommand.GetUserPage) msg;
            g.replyTo().tell(new PageReply.Denied(g.va(), Errno.ESRCH, gone.detail()));
        } else if (msg instanceof MmCommand.Fork) {
            ((MmCommand.Fork) msg).replyTo().tell(new MmCommand.ForkResult(gone, -1, null));
        } else if (msg instanceof MmCommand.Age) {
            MmCommand.Age a = (MmCommand.Age) msg;
            a.replyTo().tell(new MmCommand.AgeResult(a.range(), false, 0));
        } else if (pressureReplyTo(msg) != null) {
            // A daemon waiting on this answer may hold the frame: tell it at once that nothing was done.
            pressureReplyTo(msg).tell(new MmCommand.PressureDone(space.id(), -1, false, gone.detail()));
        } else {
            ActorRef<MmResult> replyTo = resultReplyTo(msg);
            if (replyTo != null) {
                replyTo.tell(gone);
            }
        }
    }

    private static ActorRef<MmCommand.PressureDone> pressureReplyTo(MmCommand msg) {
        if (msg instanceof MmCommand.SwapOutPage) {
            return ((MmCommand.SwapOutPage) msg).replyTo();
        } else if (msg instanceof MmCommand.SwapOutShared) {
            return ((MmCommand.SwapOutShared) msg).replyTo();
        } else if (msg instanceof MmCommand.UnmapFilePages) {
            return ((MmCommand.UnmapFilePages) msg).replyTo();
        } else if (msg instanceof MmCommand.MigratePage) {
            return ((MmCommand.MigratePage) msg).replyTo();
        } else if (msg instanceof MmCommand.KsmWriteProtect) {
            return ((MmCommand.KsmWriteProtect) msg).replyTo();
        } else if (msg instanceof MmCommand.KsmMerge) {
            return ((MmCommand.KsmMerge) msg).replyTo();
        }
        return null;
    }

    private static ActorRef<MmResult> resultReplyTo(MmCommand msg) {
        if (msg instanceof MmCommand.Access) {
            return ((MmCommand.Access) msg).replyTo();
        } else if (msg instanceof MmCommand.Mmap) {
            return ((MmCommand.Mmap) msg).replyTo();
        } else if (msg instanceof MmCommand.Munmap) {
            return ((MmCommand.Munmap) msg).replyTo();
        } else if (msg instanceof MmCommand.Mprotect) {
            return ((MmCommand.Mprotect) msg).replyTo();
        } else if (msg instanceof MmCommand.MadviseDontneed) {
            return ((MmCommand.MadviseDontneed) msg).replyTo();
        } else if (msg instanceof MmCommand.UnmapFileRange) {
            return ((MmCommand.UnmapFileRange) msg).replyTo();
        } else if (msg instanceof MmCommand.OomReap) {
            return ((MmCommand.OomReap) msg).replyTo();
        } else if (msg instanceof MmCommand.MovePages) {
            return ((MmCommand.MovePages) msg).replyTo();
        } else if (msg instanceof MmCommand.MadvisePageout) {
            return ((MmCommand.MadvisePageout) msg).replyTo();
        }
        return null;
    }

    // ---- faults ---------------------------------------------------------------------------------------------------

    private void onAccess(MmCommand.Access a) {
        if ((a.va() & 7) != 0 || a.va() < 0) {
            a.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "access must be an aligned 8-byte word: 0x"
                    + Long.toHexString(a.va())));
            return;
        }
        int pfn = resolve(a, a.va(), a.write());
        if (pfn == PARKED) {
            return;
        }
        if (pfn < 0) {
            a.replyTo().tell(new MmResult.Failed(space.lastErrno(), space.lastDetail()));
            return;
        }
        int word = (int) ((a.va() & (PageTable.PAGE_SIZE - 1)) >>> 3);
        if (a.write()) {
            memory.write(pfn, word, a.value());
            a.replyTo().tell(new MmResult.Done(a.value()));
        } else {
            a.replyTo().tell(new MmResult.Done(memory.read(pfn, word)));
        }
    }

    private void onGetUserPage(MmCommand.GetUserPage g) {
        int pfn = resolve(g, g.va(), g.write());
        if (pfn == PARKED) {
            return;
        }
        long page = g.va() & ~(PageTable.PAGE_SIZE - 1);
        if (pfn < 0) {
            g.replyTo().tell(new PageReply.Denied(page, space.lastErrno(), space.lastDetail()));
        } else {
            boolean writable = io.shadowmmu.hostmm.pagetable.Pte.isWritable(space.pageTable().get(page));
            answer(g.replyTo(), new PageReply.Granted(page, pfn, memory.generation(pfn), writable));
        }
    }

    /**
     * Sends a granted page, now or (host.fault-reply-jitter) after a seeded delay: the answer is decided here, so
     * an invalidation may run and free the frame before the faulting secondary sees it, as between
     * {@code hva_to_pfn} returning and KVM taking {@code mmu_lock}. The secondary's sequence re-check covers that.
     */
    private void answer(ActorRef<PageReply> replyTo, PageReply.Granted reply) {
        if (replyJitterNanos > 0 && replyJitter.nextDouble() < replyJitterFraction) {
            counters.repliesDelayed++;
            getContext().scheduleOnce(java.time.Duration.ofNanos(1 + replyJitter.nextLong(replyJitterNanos)), replyTo, reply);
        } else {
            replyTo.tell(reply);
        }
    }

    private static final int PARKED = -100;

    /**
     * Makes {@code va} accessible for {@code cause}. A fault on a range whose invalidation is still in flight waits
     * for it (like a fault waiting on the page lock); a copy-on-write copy that replaces a frame some subscriber may
     * cache goes through the notifier and the fault is retried when it completes ({@code VM_FAULT_RETRY}).
     */
    private int resolve(MmCommand cause, long va, boolean write) {
        if (!notifierBypassed) {
            Batch inFlight = notifier.inFlightOver(va);
            if (inFlight != null) {
                park(inFlight.id, cause);
                return PARKED;
            }
            if (notifier.hasSubscribers() && space.faultReplacesFrame(va, write)) {
                long page = va & ~(PageTable.PAGE_SIZE - 1);
                int[] pfn = {AddressSpace.FAULT_FAILED};
                Batch b = notifier.change(InvalidationEvent.CLEAR,
                        List.of(new Range(page, page + PageTable.PAGE_SIZE)), true,
                        g -> pfn[0] = space.fault(va, write, g), null);
                if (b != null) {
                    park(b.id, cause);
                    return PARKED;
                }
                return orWaitForReclaim(cause, pfn[0]); // no frame for the copy yet: wait like any other fault
            }
        }
        gather.reset();
        int pfn = space.fault(va, write, gather);
        notifier.releaseNow(gather);
        return orWaitForReclaim(cause, pfn);
    }

    /** The fault's answer, or PARKED when it failed for want of a frame and waits for reclaim. */
    private int orWaitForReclaim(MmCommand cause, int pfn) {
        if (pfn == AddressSpace.FAULT_FAILED && space.lastErrno() == Errno.ENOMEM && waitForReclaim(cause)) {
            return PARKED;
        }
        return pfn;
    }

    /**
     * Out of memory: with reclaim on, the fault waits (a timer, not a blocked thread) and retries, as a task in
     * direct reclaim would; past the retry limit it fails with ENOMEM.
     */
    private boolean waitForReclaim(MmCommand cause) {
        io.shadowmmu.config.PressureSettings p = host.settings().pressure();
        if (!p.reclaimEnabled() || faultAttempt >= p.oomRetryLimit()) {
            return false;
        }
        counters.oomWaits++;
        timers.startSingleTimer(new Object(), new RetryFault(cause, faultAttempt + 1), p.oomRetryInterval());
        return true;
    }

    private void park(long batch, MmCommand cmd) {
        parked.computeIfAbsent(batch, k -> new ArrayList<>(2)).add(cmd);
    }

    // ---- system calls ---------------------------------------------------------------------------------------------

    private void onMmap(MmCommand.Mmap m) {
        long length = pageAlignUp(m.length());
        if (m.length() <= 0 || length <= 0 || length > PageTable.VA_LIMIT / 4) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "mmap length must be positive: " + m.length()));
            return;
        }
        if ((m.address() & (PageTable.PAGE_SIZE - 1)) != 0 || (m.fileOffset() & (PageTable.PAGE_SIZE - 1)) != 0) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "mmap address and offset must be page aligned"));
            return;
        }
        if (m.kind().fileBacked() && m.kind() != VmaKind.ANON_SHARED && m.file() == null) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, m.kind() + " mapping needs a file"));
            return;
        }
        long start = m.address() != 0 ? m.address() : space.vmas().findFree(length);
        if (start + length > PageTable.VA_LIMIT) {
            m.replyTo().tell(new MmResult.Failed(Errno.ENOMEM, "no room for " + length + " bytes"));
            return;
        }
        if (!space.vmas().isFree(start, start + length)) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "fixed mapping at 0x" + Long.toHexString(start)
                    + " overlaps an existing one (MAP_FIXED_NOREPLACE semantics)"));
            return;
        }
        MemFile file = m.file();
        if (m.kind() == VmaKind.ANON_SHARED) {
            file = new MemFile("shmem:" + space.name() + "@" + Long.toHexString(start), length, memory, true);
            host.files().add(file);
        }
        space.vmas().insert(new Vma(start, start + length, m.prot(), m.kind(), file,
                m.kind() == VmaKind.ANON_SHARED ? 0 : m.fileOffset()));
        if (file != null) {
            file.attach(space.id(), getContext().getSelf());
        }
        m.replyTo().tell(new MmResult.Done(start));
    }

    private void onMunmap(MmCommand.Munmap m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<Vma> removed = space.vmas().remove(start, end);
        if (notifierBypassed) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        Runnable done = () -> {
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
        };
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            done.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.UNMAP, List.of(new Range(start, end)), g -> space.clear(start, end, g), done);
    }

    private void onMprotect(MmCommand.Mprotect m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        if (!space.vmas().fullyMapped(start, end)) {
            m.replyTo().tell(new MmResult.Failed(Errno.SEGV_MAPERR, "mprotect of unmapped memory in [0x"
                    + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")"));
            return;
        }
        space.vmas().protect(start, end, m.prot());
        if (!notifier.hasSubscribers() || m.prot() == Protection.READ_WRITE) {
            gather.reset();
            space.protect(start, end, m.prot(), gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        notifier.changeThen(InvalidationEvent.PROTECTION_VMA, List.of(new Range(start, end)),
                g -> space.protect(start, end, m.prot(), g), () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    private void onDontneed(MmCommand.MadviseDontneed m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        notifier.changeThen(InvalidationEvent.CLEAR, List.of(new Range(start, end)), g -> space.clear(start, end, g),
                () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    /** truncate: every mapping of the file's pages past the new end goes. */
    private void onUnmapFileRange(MmCommand.UnmapFileRange u) {
        clearFilePages(u.file(), u.fromPage(), AddressSpace.TO_END_OF_FILE,
                () -> u.replyTo().tell(MmResult.Done.ZERO));
    }

    /**
     * Clears the PTEs mapping {@code file}'s pages in {@code [fromPage, toPage)} (truncate, page-cache eviction),
     * then replies once no secondary can still reach them.
     */
    private void clearFilePages(MemFile file, long fromPage, long toPage, Runnable reply) {
        List<Range> ranges = space.fileRanges(file, fromPage, toPage);
        Consumer<Gather> clear = g -> {
            for (Range r : ranges) {
                space.clear(r.start(), r.end(), g);
            }
        };
        if (ranges.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            clear.accept(gather);
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.CLEAR, ranges, clear, reply);
    }

    private void onFork(MmCommand.Fork f) {
        Batch migrating = notifier.migrationInFlight();
        if (migrating != null) {
            park(migrating.id, f); // a page in migration has no frame to share yet: fork after it lands
            return;
        }
        long childId = MmIds.next();
        String childName = f.childName() != null ? f.childName() : space.name() + "-child";
        AddressSpace child = space.sibling(childId, AgentIds.next(), childName);
        Runnable adopt = () -> hostActor.tell(new HostActor.AdoptForked(new ForkedChild(child), f.replyTo()));
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.forkInto(child, gather);
            adopt.run();
            return;
        }
        List<Range> privateRanges = new ArrayList<>();
        for (Vma vma : space.vmas().all()) {
            if (!vma.kind().shared()) {
                privateRanges.add(new Range(vma.start(), vma.end()));
            }
        }
        // The child may only run once no secondary can still write the now-shared frames through the parent.
        notifier.changeThen(InvalidationEvent.PROTECTION_PAGE, privateRanges, g -> space.forkInto(child, g), adopt);
    }

    /** Non-blockable teardown of private anonymous memory ({@code __oom_reap_task_mm}). */
    private void onOomReap(ActorRef<MmResult> replyTo, int attempt) {
        List<Range> anon = new ArrayList<>();
        for (Vma vma : space.vmas().all()) {
            if (vma.kind() == VmaKind.ANON_PRIVATE) {
                anon.add(new Range(vma.start(), vma.end()));
            }
        }
        long before = space.mappedPages();
        Consumer<Gather> reap = g -> {
            for (Range r : anon) {
                space.clear(r.start(), r.end(), g);
            }
        };
        if (!notifier.hasSubscribers() || anon.isEmpty()) {
            gather.reset();
            reap.accept(gather);
            notifier.releaseNow(gather);
            replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            return;
        }
        Batch b = notifier.open(InvalidationEvent.CLEAR, anon, false, true);
        if (b == null) {
            gather.reset();
            reap.accept(gather);
            notifier.releaseNow(gather);
            replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            return;
        }
        b.change = () -> {
            gather.reset();
            reap.accept(gather);
            b.hold(gather);
        };
        b.onComplete.add(() -> {
            if (!b.nacked) {
                replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            } else if (attempt >= MAX_REAP_ATTEMPTS) {
                replyTo.tell(new MmResult.Failed(Errno.EAGAIN, "a subscriber refused non-blocking invalidation "
                        + attempt + " times"));
            } else {
                timers.startSingleTimer(new RetryReap(replyTo, attempt + 1), settings.nackRetryDelay());
            }
        });
    }

    private void onExit(MmCommand.Exit e) {
        exiting = true;
        exitWaiters.add(e.replyTo());
        notifier.release(this::teardown);
    }

    /** exit_mmap: with no subscriber left, unmap everything and free at once. */
    private void teardown() {
        gather.reset();
        List<Vma> all = List.copyOf(space.vmas().all());
        for (Vma vma : all) {
            space.clear(vma.start(), vma.end(), gather);
        }
        space.vmas().clear();
        notifier.releaseNow(gather);
        detachUnmappedFiles(all);
        tornDown = true;
        for (List<MmCommand> waiting : parked.values()) {
            for (MmCommand c : waiting) {
                refuseExited(c);
            }
        }
        parked.clear();
    }

    // ---- the notifier ---------------------------------------------------------------------------------------------

    /** A batch completed: a lifted barrier lets the stash run, and the faults that waited for it retry. */
    private void batchCompleted(long batch) {
        if (!notifier.barrierActive() && !stash.isEmpty()) {
            unstashPending = true;
        }
        List<MmCommand> waiting = parked.remove(batch);
        if (waiting != null) {
            // The faults that waited for this batch retry now, ahead of anything that arrived after them.
            for (MmCommand c : waiting) {
                route(c);
            }
        }
    }

    // ---- memory pressure ------------------------------------------------------------------------------------------

    private void onSwapOut(MmCommand.SwapOutPage c) {
        long page = c.va() & ~(PageTable.PAGE_SIZE - 1);
        long[] slot = {-1};
        int[] pfn = {c.pfn()};
        Consumer<Gather> apply = g -> slot[0] = space.swapOut(page, c.pfn(), c.generation(), g);
        // The contents go to swap only once no secondary can still write the frame.
        Runnable writeBack = () -> {
            if (slot[0] >= 0) {
                host.swap().write(slot[0], memory.snapshot(pfn[0]));
            }
        };
        Runnable reply = () -> c.replyTo().tell(new MmCommand.PressureDone(space.id(), page, slot[0] >= 0,
                slot[0] >= 0 ? "swapped out" : "page changed"));
        pressureChange(page, apply, writeBack, reply);
    }

    private void onSwapOutShared(MmCommand.SwapOutShared c) {
        long page = c.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] done = {false};
        Consumer<Gather> apply = g -> done[0] = space.swapOutShared(page, c.pfn(), c.generation(), c.slot(), g);
        Runnable reply = () -> c.replyTo().tell(new MmCommand.PressureDone(space.id(), page, done[0],
                done[0] ? "swapped out" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    /** Page-cache reclaim: the file's pages leave every mapping before they leave the cache. */
    private void onUnmapFilePages(MmCommand.UnmapFilePages u) {
        clearFilePages(u.file(), u.fromPage(), u.toPage(),
                () -> u.replyTo().tell(new MmCommand.PressureDone(space.id(), -1, true, "unmapped")));
    }

    private void onMigrate(MmCommand.MigratePage m) {
        long page = m.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] unmapped = {false};
        Consumer<Gather> apply = g -> unmapped[0] = space.migrationUnmap(page, m.pfn(), m.generation(), g);
        Runnable finish = () -> {
            int fresh = unmapped[0] ? space.migrationRemap(page, m.pfn()) : -1;
            m.replyTo().tell(new MmCommand.PressureDone(space.id(), page, fresh >= 0,
                    fresh >= 0 ? "migrated to " + fresh : "page changed"));
        };
        if (!notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            finish.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.MIGRATE, List.of(new Range(page, page + PageTable.PAGE_SIZE)),
                true, apply, null);
        if (b == null) {
            finish.run();
        } else {
            b.onComplete.add(finish);
        }
    }

    /** The exclusive anonymous pages of {@code [start, end)}: {page, pfn, generation} each. */
    private List<long[]> exclusiveAnonPages(long start, long end) {
        List<long[]> pages = new ArrayList<>();
        for (long page = start; page < end; page += PageTable.PAGE_SIZE) {
            long pte = space.pageTable().get(page);
            if (io.shadowmmu.hostmm.pagetable.Pte.holdsFrame(pte)) {
                int pfn = io.shadowmmu.hostmm.pagetable.Pte.pfn(pte);
                if (space.mapsExclusiveAnon(page, pfn, memory.generation(pfn))) {
                    pages.add(new long[] {page, pfn, memory.generation(pfn)});
                }
            }
        }
        return pages;
    }

    /** MADV_PAGEOUT: the range's exclusive anonymous pages go to swap in one CLEAR batch. */
    private void onPageout(MmCommand.MadvisePageout m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<long[]> candidates = exclusiveAnonPages(start, end);
        List<long[]> out = new ArrayList<>(); // {slot, pfn}
        Consumer<Gather> apply = g -> {
            for (long[] c : candidates) {
                long slot = space.swapOut(c[0], (int) c[1], (int) c[2], g);
                if (slot >= 0) {
                    out.add(new long[] {slot, c[1]});
                }
            }
        };
        // The contents go to swap only once no secondary can still write the frames.
        Runnable writeBack = () -> {
            for (long[] o : out) {
                host.swap().write(o[0], memory.snapshot((int) o[1]));
            }
        };
        Runnable reply = () -> m.replyTo().tell(new MmResult.Done(out.size()));
        if (candidates.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            writeBack.run();
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.CLEAR, List.of(new Range(start, end)), true, apply, writeBack);
        if (b == null) {
            reply.run();
        } else {
            b.onComplete.add(reply);
        }
    }

    /** move_pages(2) over a range: one MIGRATE batch, then each moved page is copied and remapped. */
    private void onMovePages(MmCommand.MovePages m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<long[]> candidates = exclusiveAnonPages(start, end);
        List<long[]> unmapped = new ArrayList<>();
        Consumer<Gather> apply = g -> {
            for (long[] c : candidates) {
                if (space.migrationUnmap(c[0], (int) c[1], (int) c[2], g)) {
                    unmapped.add(c);
                }
            }
        };
        Runnable finish = () -> {
            long moved = 0;
            for (long[] c : unmapped) {
                if (space.migrationRemap(c[0], (int) c[1]) >= 0) {
                    moved++;
                }
            }
            m.replyTo().tell(new MmResult.Done(moved));
        };
        if (candidates.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            finish.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.MIGRATE, List.of(new Range(start, end)), apply, finish);
    }

    private void onKsmWriteProtect(MmCommand.KsmWriteProtect k) {
        long page = k.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] ok = {false};
        Consumer<Gather> apply = g -> {
            ok[0] = space.writeProtect(page, k.pfn(), k.generation(), g);
            if (ok[0] && k.makeKsm()) {
                memory.setFlag(k.pfn(), PhysicalMemory.FLAG_KSM);
            }
        };
        Runnable reply = () -> k.replyTo().tell(new MmCommand.PressureDone(space.id(), page, ok[0],
                ok[0] ? "write-protected" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    private void onKsmMerge(MmCommand.KsmMerge k) {
        long page = k.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] ok = {false};
        Consumer<Gather> apply = g -> ok[0] = space.replaceWithKsm(page, k.pfn(), k.generation(), k.ksmPfn(),
                k.ksmGeneration(), g);
        Runnable reply = () -> k.replyTo().tell(new MmCommand.PressureDone(space.id(), page, ok[0],
                ok[0] ? "merged" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    /** A one-page change on behalf of a memory-pressure daemon; {@code beforeRelease} sees the held frame. */
    private void pressureChange(long page, Consumer<Gather> apply, Runnable beforeRelease, Runnable reply) {
        if (!notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.CLEAR, List.of(new Range(page, page + PageTable.PAGE_SIZE)),
                true, apply, beforeRelease);
        if (b == null) {
            reply.run();
        } else {
            b.onComplete.add(reply);
        }
    }

    // ---- registration -------------------------------------------------------------------------------------------

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

    // ---- inspection ---------------------------------------------------------------------------------------------

    private void onGetStats(MmCommand.GetStats g) {
        g.replyTo().tell(counters.snapshot(space.id(), space.name(), space.mappedPages(), notifier.heldFrames(),
                notifier.subscriberCount()));
    }

    private void onFrameAudit(MmCommand.GetFrameAudit g) {
        g.replyTo().tell(new MmCommand.FrameAudit(space.id(), space.mappedFrames(), notifier.heldPfns()));
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private void detachUnmappedFiles(List<Vma> removed) {
        java.util.Set<MemFile> stillMapped = space.mappedFiles();
        for (Vma v : removed) {
            if (v.file() != null && !stillMapped.contains(v.file())) {
                for (int pfn : v.file().detach(space.id())) {
                    memory.put(pfn);
                }
                if (v.file().anonymous() && v.file().mappers().isEmpty()) {
                    host.files().remove(v.file());
                }
            }
        }
    }

    private boolean validRange(long start, long length, ActorRef<MmResult> replyTo) {
        if ((start & (PageTable.PAGE_SIZE - 1)) != 0 || length <= 0 || start < 0
                || start + length > PageTable.VA_LIMIT) {
            replyTo.tell(new MmResult.Failed(Errno.EINVAL, "bad range: address 0x" + Long.toHexString(start)
                    + " length " + length + " (address must be page aligned, length positive)"));
            return false;
        }
        return true;
    }

    private static long pageAlignUp(long length) {
        return (length + PageTable.PAGE_SIZE - 1) & ~(PageTable.PAGE_SIZE - 1);
    }
}
