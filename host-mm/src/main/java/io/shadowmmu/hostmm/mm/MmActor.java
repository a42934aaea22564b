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
import io.shadowmmu.hostmm.notifier.DeliveryStrategy;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.Vma;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
 * still in flight. An mm with no subscriber never enters the notifier path.
 */
public final class MmActor extends AbstractBehavior<MmCommand> {

    private record WrappedReply(NotifierReply reply) implements MmCommand.Internal {
    }

    private record AckDeadline(long batch) implements MmCommand.Internal {
    }

    private record FencePoll(long batch) implements MmCommand.Internal {
    }

    private record SubscriberDied(ActorRef<MmuNotification> ref) implements MmCommand.Internal {
    }

    private record RetryReap(ActorRef<MmResult> replyTo, int attempt) implements MmCommand.Internal {
    }

    private record AgeTimeout(long request) implements MmCommand.Internal {
    }

    /** A fault that found no free frame, tried again once reclaim had time to free some. */
    private record RetryFault(MmCommand cause, int attempt) implements MmCommand.Internal {
    }

    /** An aging query waiting for the subscribers' young reports. */
    private static final class AgeQuery {
        final MmCommand.Age request;
        final boolean hostYoung;
        int awaiting;
        int young;

        AgeQuery(MmCommand.Age request, boolean hostYoung, int awaiting) {
            this.request = request;
            this.hostYoung = hostYoung;
            this.awaiting = awaiting;
        }
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
    private final DeliveryStrategy strategy;
    /** A race-catalogue variant under test, or NONE. */
    private final io.shadowmmu.config.Variant variant;
    private final StashBuffer<MmCommand> stash;
    private final TimerScheduler<MmCommand> timers;
    private final ActorRef<NotifierReply> replyAdapter;
    private final Gather gather = new Gather();

    private final Map<Long, Subscription> subscriptions = new LinkedHashMap<>();
    private final Map<ActorRef<MmuNotification>, List<Long>> subscriptionsByRef = new HashMap<>();
    private final Map<Long, Batch> batches = new LinkedHashMap<>();
    /** Commands waiting for a batch to complete: faults on a range in flight, callers of a change. */
    private final Map<Long, List<MmCommand>> parked = new HashMap<>();
    private final Map<Long, AgeQuery> ageQueries = new HashMap<>();
    private long nextAgeRequest = 1;
    private Batch barrier;
    private boolean unstashPending;
    /** Attempt number of the fault being re-run after an out-of-memory wait; 0 for a fresh one. */
    private int faultAttempt;
    private long nextSubscription = 1;
    private long nextBatch = 1;

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
        this.strategy = DeliveryStrategy.of(settings.strategy());
        this.variant = host.settings().variant();
        this.stash = stash;
        this.timers = timers;
        this.replyAdapter = context.messageAdapter(NotifierReply.class, WrappedReply::new);
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
            onUnregister((MmCommand.Unregister) msg);
        } else if (msg instanceof MmCommand.GetStats) {
            onGetStats((MmCommand.GetStats) msg);
        } else if (msg instanceof MmCommand.GetFrameAudit) {
            onFrameAudit((MmCommand.GetFrameAudit) msg);
        } else if (barrier != null) {
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
        } else if (msg instanceof MmCommand.Fork) {
            onFork((MmCommand.Fork) msg);
        } else if (msg instanceof MmCommand.UnmapFileRange) {
            onUnmapFileRange((MmCommand.UnmapFileRange) msg);
        } else if (msg instanceof MmCommand.OomReap) {
            onOomReap(((MmCommand.OomReap) msg).replyTo(), 1);
        } else if (msg instanceof MmCommand.Age) {
            onAge((MmCommand.Age) msg);
        } else if (msg instanceof MmCommand.SwapOutPage) {
            onSwapOut((MmCommand.SwapOutPage) msg);
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
        if (msg instanceof WrappedReply) {
            onReply(((WrappedReply) msg).reply());
        } else if (msg instanceof AckDeadline) {
            onAckDeadline(((AckDeadline) msg).batch());
        } else if (msg instanceof FencePoll) {
            Batch b = batches.get(((FencePoll) msg).batch());
            if (b != null) {
                tryFinish(b);
            }
        } else if (msg instanceof RetryFault) {
            RetryFault r = (RetryFault) msg;
            if (barrier != null) {
                stash.stash(msg);
            } else {
                faultAttempt = r.attempt();
                route(r.cause());
                faultAttempt = 0;
            }
        } else if (msg instanceof AgeTimeout) {
            AgeQuery q = ageQueries.remove(((AgeTimeout) msg).request());
            if (q != null) {
                replyAge(q);
            }
        } else if (msg instanceof SubscriberDied) {
            onSubscriberDied(((SubscriberDied) msg).ref());
        } else if (msg instanceof RetryReap) {
            RetryReap r = (RetryReap) msg;
            if (barrier != null) {
                stash.stash(msg);
            } else if (!exiting) {
                onOomReap(r.replyTo(), r.attempt());
            } else {
                r.replyTo().tell(new MmResult.Failed(Errno.ESRCH, "process exited"));
            }
        }
    }

    private Behavior<MmCommand> next() {
        if (unstashPending && barrier == null) {
            unstashPending = false;
            // Stashed commands run now, in arrival order, before anything still in the mailbox.
            return stash.unstashAll(this);
        }
        if (exiting && tornDown && batches.isEmpty()) {
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
        } else {
            ActorRef<MmResult> replyTo = resultReplyTo(msg);
            if (replyTo != null) {
                replyTo.tell(gone);
            }
        }
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
            g.replyTo().tell(new PageReply.Granted(page, pfn, memory.generation(pfn), writable));
        }
    }

    private static final int PARKED = -100;

    /**
     * Makes {@code va} accessible for {@code cause}. A fault on a range whose invalidation is still in flight waits
     * for it (like a fault waiting on the page lock); a copy-on-write copy that replaces a frame some subscriber may
     * cache goes through the notifier and the fault is retried when it completes ({@code VM_FAULT_RETRY}).
     */
    private int resolve(MmCommand cause, long va, boolean write) {
        if (notifierBypassed) {
            gather.reset();
            int pfn = space.fault(va, write, gather);
            releaseNow(gather);
            if (pfn == AddressSpace.FAULT_FAILED && space.lastErrno() == Errno.ENOMEM && waitForReclaim(cause)) {
                return PARKED;
            }
            return pfn;
        }
        if (!batches.isEmpty()) {
            for (Batch b : batches.values()) {
                if (b.changeApplied && b.covers(va)) {
                    park(b.id, cause);
                    return PARKED;
                }
            }
        }
        if (!subscriptions.isEmpty() && space.faultReplacesFrame(va, write)) {
            long page = va & ~(PageTable.PAGE_SIZE - 1);
            int[] pfn = {AddressSpace.FAULT_FAILED};
            Batch b = change(InvalidationEvent.CLEAR, List.of(new Range(page, page + PageTable.PAGE_SIZE)), true,
                    g -> pfn[0] = space.fault(va, write, g));
            if (b != null) {
                park(b.id, cause);
                return PARKED;
            }
            if (pfn[0] == AddressSpace.FAULT_FAILED && space.lastErrno() == Errno.ENOMEM && waitForReclaim(cause)) {
                return PARKED; // no frame for the copy yet: wait for reclaim like any other fault
            }
            return pfn[0];
        }
        gather.reset();
        int pfn = space.fault(va, write, gather);
        releaseNow(gather);
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
            releaseNow(gather);
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        Runnable done = () -> {
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
        };
        if (subscriptions.isEmpty()) {
            gather.reset();
            space.clear(start, end, gather);
            releaseNow(gather);
            done.run();
            return;
        }
        changeThen(InvalidationEvent.UNMAP, List.of(new Range(start, end)), g -> space.clear(start, end, g), done);
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
        if (subscriptions.isEmpty() || m.prot() == Protection.READ_WRITE) {
            gather.reset();
            space.protect(start, end, m.prot(), gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        changeThen(InvalidationEvent.PROTECTION_VMA, List.of(new Range(start, end)),
                g -> space.protect(start, end, m.prot(), g), () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    private void onDontneed(MmCommand.MadviseDontneed m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        if (subscriptions.isEmpty()) {
            gather.reset();
            space.clear(start, end, gather);
            releaseNow(gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        changeThen(InvalidationEvent.CLEAR, List.of(new Range(start, end)), g -> space.clear(start, end, g),
                () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    private void onUnmapFileRange(MmCommand.UnmapFileRange u) {
        List<Range> ranges = space.fileRanges(u.file(), u.fromPage());
        Consumer<Gather> clear = g -> {
            for (Range r : ranges) {
                space.clear(r.start(), r.end(), g);
            }
        };
        if (ranges.isEmpty() || subscriptions.isEmpty()) {
            gather.reset();
            clear.accept(gather);
            releaseNow(gather);
            u.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        changeThen(InvalidationEvent.CLEAR, ranges, clear, () -> u.replyTo().tell(MmResult.Done.ZERO));
    }

    private void onFork(MmCommand.Fork f) {
        for (Batch b : batches.values()) {
            if (b.event == InvalidationEvent.MIGRATE && !b.ended) {
                park(b.id, f); // a page in migration has no frame to share yet: fork after it lands
                return;
            }
        }
        long childId = MmIds.next();
        String childName = f.childName() != null ? f.childName() : space.name() + "-child";
        AddressSpace child = space.sibling(childId, AgentIds.next(), childName);
        Runnable adopt = () -> hostActor.tell(new HostActor.AdoptForked(new ForkedChild(child), f.replyTo()));
        if (subscriptions.isEmpty()) {
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
        changeThen(InvalidationEvent.PROTECTION_PAGE, privateRanges, g -> space.forkInto(child, g), adopt);
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
        if (subscriptions.isEmpty() || anon.isEmpty()) {
            gather.reset();
            reap.accept(gather);
            releaseNow(gather);
            replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            return;
        }
        Batch b = open(InvalidationEvent.CLEAR, anon, false, true);
        if (b == null) {
            gather.reset();
            reap.accept(gather);
            releaseNow(gather);
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
        if (subscriptions.isEmpty()) {
            teardown();
            return;
        }
        // mmu_notifier_release: every subscriber drops everything before the address space goes.
        Batch release = new Batch(nextBatch++, InvalidationEvent.RELEASE, List.of(), true, true, System.nanoTime());
        batches.put(release.id, release);
        barrier = release;
        for (Subscription s : subscriptions.values()) {
            Batch.Part part = new Batch.Part(s, List.of(List.of()));
            release.parts.put(s.id, part);
            s.ref.tell(new MmuNotification.Release(s.id, space.id(), release.id, replyAdapter));
            counters.sent(s.id);
            trackDeadline(release, s);
        }
        events.invalidationStarted(space.id(), release.id, List.of(), InvalidationEvent.RELEASE);
        release.change = () -> {
            for (Subscription s : List.copyOf(subscriptions.values())) {
                removeSubscription(s);
            }
            // Having released, a subscriber holds nothing: what it still owed older batches is settled.
            for (Batch other : List.copyOf(batches.values())) {
                if (other != release) {
                    for (Batch.Part part : other.parts.values()) {
                        part.awaiting = 0;
                    }
                    tryFinish(other);
                }
            }
            teardown();
        };
        release.ended = true; // release has no end message
    }

    /** exit_mmap: with no subscriber left, unmap everything and free at once. */
    private void teardown() {
        gather.reset();
        List<Vma> all = List.copyOf(space.vmas().all());
        for (Vma vma : all) {
            space.clear(vma.start(), vma.end(), gather);
        }
        space.vmas().clear();
        releaseNow(gather);
        detachUnmappedFiles(all);
        tornDown = true;
        for (List<MmCommand> waiting : parked.values()) {
            for (MmCommand c : waiting) {
                refuseExited(c);
            }
        }
        parked.clear();
    }

    // ---- the notifier -----------------------------------------------------------------------------------------

    /**
     * Runs a PTE change under the delivery strategy; {@code then} runs when every subscriber acked or was fenced.
     */
    private void changeThen(InvalidationEvent event, List<Range> intent, Consumer<Gather> apply, Runnable then) {
        Batch b = change(event, intent, true, apply);
        if (b == null) {
            then.run();
        } else {
            b.onComplete.add(then);
        }
    }

    /**
     * Applies {@code apply} now (after-change strategies) or once all acked (barrier strategies). Returns the batch
     * in flight, or null when no subscriber had to hear about it and the change is complete.
     */
    private Batch change(InvalidationEvent event, List<Range> intent, boolean blockable, Consumer<Gather> apply) {
        return change(event, intent, blockable, apply, null);
    }

    /**
     * As {@link #change(InvalidationEvent, List, boolean, Consumer)}; {@code beforeRelease} (may be null) runs just
     * before the gathered frames are released, whichever path releases them.
     */
    private Batch change(InvalidationEvent event, List<Range> intent, boolean blockable, Consumer<Gather> apply,
                         Runnable beforeRelease) {
        Batch b;
        if (variant == io.shadowmmu.config.Variant.FREE_BEFORE_ACK) {
            // Broken on purpose: change, notify, and free at once, as if the acknowledgements did not matter.
            gather.reset();
            apply.accept(gather);
            List<Range> changed = gather.ranges();
            b = changed.isEmpty() ? null : open(event, List.copyOf(changed), blockable, false);
            if (b != null) {
                b.changeApplied = true;
            }
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            releaseNow(gather);
            return b;
        }
        if (strategy.notifiesBeforeChange()) {
            b = open(event, intent, blockable, true);
            if (b != null) {
                Batch barrierBatch = b;
                b.change = () -> {
                    gather.reset();
                    apply.accept(gather);
                    barrierBatch.hold(gather);
                };
            }
        } else if (strategy.timing() == DeliveryStrategy.Timing.BEFORE_NO_WAIT) {
            // Mark first (the starts go out before the change), change at once, hold the frames for the sync.
            b = open(event, intent, blockable, false);
            gather.reset();
            apply.accept(gather);
            if (b != null) {
                b.hold(gather);
                b.changeApplied = true;
            }
        } else {
            gather.reset();
            apply.accept(gather);
            List<Range> changed = gather.ranges();
            b = changed.isEmpty() ? null : open(event, List.copyOf(changed), blockable, false);
            if (b != null) {
                b.hold(gather);
                b.changeApplied = true;
            }
        }
        if (b == null) {
            if (strategy.notifiesBeforeChange()) {
                gather.reset();
                apply.accept(gather);
            }
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            releaseNow(gather);
            return null;
        }
        if (beforeRelease != null) {
            b.beforeRelease.add(beforeRelease);
        }
        return b;
    }

    /** Tells every overlapping subscriber; null when none overlaps. */
    private Batch open(InvalidationEvent event, List<Range> ranges, boolean blockable, boolean isBarrier) {
        Batch b = null;
        for (Subscription s : subscriptions.values()) {
            List<Range> mine = s.interest.clip(ranges);
            if (mine.isEmpty()) {
                continue;
            }
            if (b == null) {
                b = new Batch(nextBatch++, event, ranges, blockable, isBarrier, System.nanoTime());
                counters.invalidations++;
                counters.batches++;
            }
            Batch.Part part = new Batch.Part(s, strategy.messages(mine, settings.maxRangesPerMessage()));
            b.parts.put(s.id, part);
            for (List<Range> msgRanges : part.messages) {
                s.ref.tell(new MmuNotification.InvalidateStart(s.id, space.id(), b.id, msgRanges, event, blockable,
                        replyAdapter));
                counters.sent(s.id);
            }
            trackDeadline(b, s);
        }
        if (b != null) {
            batches.put(b.id, b);
            if (isBarrier) {
                barrier = b;
            }
            events.invalidationStarted(space.id(), b.id, ranges, event);
        }
        return b;
    }

    private void trackDeadline(Batch b, Subscription s) {
        long deadline = b.startedNanos + s.ackDeadlineNanos;
        if (deadline < b.earliestDeadlineNanos) {
            b.earliestDeadlineNanos = deadline;
            timers.startSingleTimer(new AckDeadline(b.id), Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
    }

    private void onReply(NotifierReply reply) {
        if (reply instanceof NotifierReply.YoungReport) {
            onYoungReport((NotifierReply.YoungReport) reply);
            return;
        }
        long batchId = reply instanceof NotifierReply.Ack ? ((NotifierReply.Ack) reply).batch()
                : ((NotifierReply.Nack) reply).batch();
        Batch b = batches.get(batchId);
        if (b == null) {
            return; // late reply from a fenced subscriber, or a duplicate: the batch is gone
        }
        Batch.Part part = b.parts.get(reply.subscription());
        if (part == null || part.awaiting == 0) {
            return;
        }
        part.awaiting--;
        if (reply instanceof NotifierReply.Ack) {
            counters.acked(b.startedNanos, System.nanoTime());
            applyDirty(b, ((NotifierReply.Ack) reply).dirty());
            if (part.awaiting == 0) {
                events.invalidationAcked(space.id(), b.id, reply.subscription());
            }
        } else {
            counters.nacks++;
            part.nacked = true;
            b.nacked = true;
        }
        tryFinish(b);
    }

    /** A secondary wrote through its own mapping: the frame is dirty even if the host PTE never said so (I6). */
    private void applyDirty(Batch b, List<Range> dirty) {
        if (dirty.isEmpty() || variant == io.shadowmmu.config.Variant.LOST_DIRTY) {
            return;
        }
        for (Range r : dirty) {
            for (int i = 0; i < b.vas.length; i++) {
                if (r.contains(b.vas[i])) {
                    memory.setFlag(b.pfns[i], PhysicalMemory.FLAG_DIRTY);
                }
            }
            for (long va = r.start(); va < r.end(); va += PageTable.PAGE_SIZE) {
                long pte = space.pageTable().get(va);
                if (io.shadowmmu.hostmm.pagetable.Pte.holdsFrame(pte)) {
                    memory.setFlag(io.shadowmmu.hostmm.pagetable.Pte.pfn(pte), PhysicalMemory.FLAG_DIRTY);
                }
            }
        }
    }

    private void onAckDeadline(long batchId) {
        Batch b = batches.get(batchId);
        if (b == null) {
            return;
        }
        long now = System.nanoTime();
        long nextDeadline = Long.MAX_VALUE;
        for (Batch.Part part : List.copyOf(b.parts.values())) {
            if (part.awaiting == 0) {
                continue;
            }
            long deadline = b.startedNanos + part.sub.ackDeadlineNanos;
            if (deadline <= now) {
                fence(part.sub, "no ack for batch " + b.id + " within " + Duration.ofNanos(part.sub.ackDeadlineNanos)
                        .toMillis() + " ms");
            } else {
                nextDeadline = Math.min(nextDeadline, deadline);
            }
        }
        if (nextDeadline != Long.MAX_VALUE) {
            timers.startSingleTimer(new AckDeadline(b.id), Duration.ofNanos(nextDeadline - now));
        }
    }

    /**
     * Gives up on a subscriber: revokes its access, tells it, forgets it. Every batch it owed an ack proceeds, but
     * frees frames only once the revoked subscriber is out of its access section.
     */
    private void fence(Subscription s, String reason) {
        s.grant.revoke();
        counters.fences++;
        events.agentRevoked(s.agent, "fenced: " + reason);
        removeSubscription(s);
        s.ref.tell(new MmuNotification.Fenced(s.id, space.id(), reason));
        counters.sent(s.id);
        getContext().getLog().info("mm {}: fenced {}: {}", space.id(), s, reason);
        for (Batch b : List.copyOf(batches.values())) {
            Batch.Part part = b.parts.get(s.id);
            if (part != null) {
                boolean owed = part.awaiting > 0;
                part.awaiting = 0;
                b.fencedGrants.add(s.grant);
                if (owed) {
                    events.invalidationFenced(space.id(), b.id, s.id);
                }
                tryFinish(b);
            }
        }
    }

    private void onSubscriberDied(ActorRef<MmuNotification> ref) {
        List<Long> ids = subscriptionsByRef.get(ref);
        if (ids == null) {
            return;
        }
        for (Long id : List.copyOf(ids)) {
            Subscription s = subscriptions.get(id);
            if (s == null) {
                continue;
            }
            counters.deaths++;
            events.agentRevoked(s.agent, "subscriber stopped");
            removeSubscription(s);
            for (Batch b : List.copyOf(batches.values())) {
                Batch.Part part = b.parts.get(s.id);
                if (part != null && part.awaiting > 0) {
                    part.awaiting = 0; // a dead subscriber holds nothing: counted as acked
                    tryFinish(b);
                }
            }
        }
    }

    /** Moves a batch forward once everybody replied: apply (barrier), end, then free after fenced grants drain. */
    private void tryFinish(Batch b) {
        if (!b.allReplied() || !batches.containsKey(b.id)) {
            return;
        }
        if (b.barrier && !b.changeApplied) {
            b.changeApplied = true;
            if (!b.nacked && b.change != null) {
                b.change.run();
            }
            if (barrier == b) {
                barrier = null;
            }
        }
        if (!b.ended) {
            b.ended = true;
            sendEnds(b);
        }
        for (int i = 0; i < b.fencedGrants.size(); i++) {
            if (!b.fencedGrants.get(i).quiescent()) {
                timers.startSingleTimer(new FencePoll(b.id), settings.fencePollInterval());
                return;
            }
        }
        batches.remove(b.id);
        for (Runnable r : b.beforeRelease) {
            r.run();
        }
        for (int pfn : b.pfns) {
            memory.put(pfn);
        }
        events.invalidationCompleted(space.id(), b.id, System.nanoTime() - b.startedNanos);
        timers.cancel(new AckDeadline(b.id));
        for (Runnable r : b.onComplete) {
            r.run();
        }
        if (barrier == null && !stash.isEmpty()) {
            unstashPending = true;
        }
        List<MmCommand> waiting = parked.remove(b.id);
        if (waiting != null) {
            // The faults that waited for this batch retry now, ahead of anything that arrived after them.
            for (MmCommand c : waiting) {
                route(c);
            }
        }
    }

    /** invalidate_range_end, paired with every start, for everyone who saw the start or joined while in flight. */
    private void sendEnds(Batch b) {
        if (b.event == InvalidationEvent.RELEASE) {
            return;
        }
        for (Batch.Part part : b.parts.values()) {
            if (subscriptions.containsKey(part.sub.id)) {
                for (List<Range> msgRanges : part.messages) {
                    part.sub.ref.tell(new MmuNotification.InvalidateEnd(part.sub.id, space.id(), b.id, msgRanges));
                    counters.sent(part.sub.id);
                }
            }
        }
        for (Subscription late : b.lateJoiners) {
            if (subscriptions.containsKey(late.id)) {
                late.ref.tell(new MmuNotification.InvalidateEnd(late.id, space.id(), b.id, late.interest.clip(b.ranges)));
                counters.sent(late.id);
            }
        }
    }

    private void releaseNow(Gather g) {
        for (int i = 0; i < g.frameCount(); i++) {
            memory.put(g.pfn(i));
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

    private void onUnmapFilePages(MmCommand.UnmapFilePages u) {
        List<Range> ranges = new ArrayList<>();
        for (Vma vma : space.vmas().all()) {
            if (vma.file() != u.file()) {
                continue;
            }
            for (long index = u.fromPage(); index < u.toPage(); index++) {
                long va = vma.addressOfFilePage(index);
                if (va >= 0) {
                    ranges.add(new Range(va, va + PageTable.PAGE_SIZE));
                }
            }
        }
        Consumer<Gather> apply = g -> {
            for (Range r : ranges) {
                space.clear(r.start(), r.end(), g);
            }
        };
        Runnable reply = () -> u.replyTo().tell(new MmCommand.PressureDone(space.id(), -1, true, "unmapped"));
        if (ranges.isEmpty() || subscriptions.isEmpty()) {
            gather.reset();
            apply.accept(gather);
            releaseNow(gather);
            reply.run();
            return;
        }
        changeThen(InvalidationEvent.CLEAR, ranges, apply, reply);
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
        if (subscriptions.isEmpty()) {
            gather.reset();
            apply.accept(gather);
            finish.run();
            return;
        }
        Batch b = change(InvalidationEvent.MIGRATE, List.of(new Range(page, page + PageTable.PAGE_SIZE)), true,
                apply);
        if (b == null) {
            finish.run();
        } else {
            b.onComplete.add(finish);
        }
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
        if (subscriptions.isEmpty()) {
            gather.reset();
            apply.accept(gather);
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            releaseNow(gather);
            reply.run();
            return;
        }
        Batch b = change(InvalidationEvent.CLEAR, List.of(new Range(page, page + PageTable.PAGE_SIZE)), true,
                apply, beforeRelease);
        if (b == null) {
            reply.run();
        } else {
            b.onComplete.add(reply);
        }
    }

    // ---- aging ---------------------------------------------------------------------------------------------------

    private void onAge(MmCommand.Age a) {
        boolean hostYoung = false;
        for (long va = a.range().start(); va < a.range().end(); va += PageTable.PAGE_SIZE) {
            long pte = space.pageTable().get(va);
            if (io.shadowmmu.hostmm.pagetable.Pte.isAccessed(pte)) {
                hostYoung = true;
                if (a.clear()) {
                    space.pageTable().testAndClearAccessed(va);
                }
            }
        }
        long request = nextAgeRequest++;
        int asked = 0;
        long deadline = 0;
        for (Subscription s : subscriptions.values()) {
            if (!s.interest.overlaps(a.range())) {
                continue;
            }
            MmuNotification query = a.clear()
                    ? new MmuNotification.ClearYoung(s.id, space.id(), request, a.range(), replyAdapter)
                    : new MmuNotification.TestYoung(s.id, space.id(), request, a.range(), replyAdapter);
            s.ref.tell(query);
            counters.sent(s.id);
            asked++;
            deadline = Math.max(deadline, s.ackDeadlineNanos);
        }
        AgeQuery q = new AgeQuery(a, hostYoung, asked);
        if (asked == 0) {
            replyAge(q);
            return;
        }
        ageQueries.put(request, q);
        timers.startSingleTimer(new AgeTimeout(request), Duration.ofNanos(deadline));
    }

    private void onYoungReport(NotifierReply.YoungReport r) {
        AgeQuery q = ageQueries.get(r.request());
        if (q == null) {
            return;
        }
        if (r.young()) {
            q.young++;
        }
        if (--q.awaiting == 0) {
            ageQueries.remove(r.request());
            timers.cancel(new AgeTimeout(r.request()));
            replyAge(q);
        }
    }

    private static void replyAge(AgeQuery q) {
        q.request.replyTo().tell(new MmCommand.AgeResult(q.request.range(), q.hostYoung, q.young));
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
        Duration deadline = r.ackDeadline() != null ? r.ackDeadline() : settings.ackDeadline();
        Subscription s = new Subscription(nextSubscription++, r.subscriber(), r.interest(), r.agent(), r.name(),
                deadline.toNanos());
        // Registration is a mailbox position: hand the newcomer every invalidation still in flight over its interest.
        List<MmCommand.InFlight> inFlight = new ArrayList<>();
        for (Batch b : batches.values()) {
            if (b.ended || b.event == InvalidationEvent.RELEASE
                    || variant == io.shadowmmu.config.Variant.REGISTER_UNQUIESCED) {
                continue;
            }
            List<Range> mine = s.interest.clip(b.ranges);
            if (!mine.isEmpty()) {
                inFlight.add(new MmCommand.InFlight(b.id, mine));
                b.lateJoiners.add(s);
            }
        }
        subscriptions.put(s.id, s);
        List<Long> ids = subscriptionsByRef.get(r.subscriber());
        if (ids == null) {
            ids = new ArrayList<>(1);
            subscriptionsByRef.put(r.subscriber(), ids);
            getContext().watchWith(r.subscriber(), new SubscriberDied(r.subscriber()));
        }
        ids.add(s.id);
        r.replyTo().tell(new MmCommand.Registered(space.id(), s.id, s.grant, inFlight, space.pageTable()));
    }

    private void onUnregister(MmCommand.Unregister u) {
        Subscription s = subscriptions.get(u.subscription());
        if (s == null) {
            u.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "no subscription " + u.subscription()));
            return;
        }
        removeSubscription(s);
        for (Batch b : List.copyOf(batches.values())) {
            Batch.Part part = b.parts.get(s.id);
            if (part != null && part.awaiting > 0) {
                part.awaiting = 0;
                tryFinish(b);
            }
        }
        u.replyTo().tell(MmResult.Done.ZERO);
    }

    private void removeSubscription(Subscription s) {
        subscriptions.remove(s.id);
        List<Long> ids = subscriptionsByRef.get(s.ref);
        if (ids != null) {
            ids.remove(s.id);
            if (ids.isEmpty()) {
                subscriptionsByRef.remove(s.ref);
                getContext().unwatch(s.ref);
            }
        }
    }

    // ---- inspection ---------------------------------------------------------------------------------------------

    private void onGetStats(MmCommand.GetStats g) {
        long pending = 0;
        for (Batch b : batches.values()) {
            pending += b.heldFrames();
        }
        g.replyTo().tell(counters.snapshot(space.id(), space.name(), space.mappedPages(), pending,
                subscriptions.size()));
    }

    private void onFrameAudit(MmCommand.GetFrameAudit g) {
        int total = 0;
        for (Batch b : batches.values()) {
            total += b.pfns.length;
        }
        int[] pending = new int[total];
        int n = 0;
        for (Batch b : batches.values()) {
            System.arraycopy(b.pfns, 0, pending, n, b.pfns.length);
            n += b.pfns.length;
        }
        g.replyTo().tell(new MmCommand.FrameAudit(space.id(), space.mappedFrames(), pending));
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
