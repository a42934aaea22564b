package io.shadowmmu.guest.vcpu;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.guest.os.GuestFaultResult;
import io.shadowmmu.guest.os.GuestLayout;
import io.shadowmmu.guest.tlb.Tlb;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.workload.AccessBatch;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtual CPU in guest mode with its private TLB (a vCPU thread inside {@code KVM_RUN}).
 *
 * <p>It runs its processes' workloads in slices of {@code sliceAccesses}; each slice is one message to itself, so a
 * remote TLB flush from KVM or from the guest kernel is served between two slices, never later than one slice. A
 * slice is bracketed by the access grant of KVM's notifier registration. A TLB hit reads or writes the host frame
 * directly: no message, no allocation, no lock. A miss walks the second-level table (TDP, or shadow) like the MMU
 * does, without a message; only when that table has no usable entry does the vCPU exit to KVM and retry the access
 * when the reply comes. While exits are in flight the vCPU runs ahead ({@link #MAX_EXITS_IN_FLIGHT} exits, like the
 * out-of-order core behind a missing translation keeps retiring independent accesses): an access that exits is set
 * aside, and so is every later access to the same guest page, which keeps each page's accesses in program order (what
 * the golden copy checks); the set-aside accesses are replayed, in order, when an answer comes. A missing guest
 * page-table entry is a guest page fault, handled by the guest kernel; the vCPU runs nothing until it is answered.
 *
 * <p>In check mode each process keeps a golden copy of its writes and every read is compared with it (I1), and a
 * TLB hit verifies that its frame was not freed and reused since the translation was made (I3).
 */
public final class Vcpu extends AbstractBehavior<Vcpu.Command> {

    public sealed interface Command {
    }

    /**
     * Gives this vCPU a guest process to run (pinned: a process runs on one vCPU, so its golden copy is exact). For
     * a pid it already runs, the new workload follows the current one and the golden copy is kept.
     */
    public record AddProcess(int pid, long cr3, Workload workload) implements Command {
    }

    /** Runs every process's workload to its end, then replies. */
    public record Start(ActorRef<Finished> replyTo) implements Command {
    }

    public record Finished(int vcpu, VcpuStats stats) {
    }

    /**
     * Flush translations ({@code kvm_flush_remote_tlbs} / a guest TLB shootdown IPI): all of them, or the guest
     * virtual pages {@code [startVpn, endVpn)}.
     */
    public record FlushTlb(long request, boolean all, long startVpn, long endVpn, FlushAck ack)
            implements Command {
        public static FlushTlb everything(long request, ActorRef<FlushDone> replyTo) {
            return new FlushTlb(request, true, 0, 0, FlushAck.to(replyTo));
        }

        public static FlushTlb range(long request, long startVpn, long endVpn, ActorRef<FlushDone> replyTo) {
            return new FlushTlb(request, false, startVpn, endVpn, FlushAck.to(replyTo));
        }
    }

    /**
     * How a flush is acknowledged once done. The guest kernel gets a {@link FlushDone}; KVM's adapter answers in
     * KVM's own protocol, which is why this is a function and not one fixed reply type.
     */
    @FunctionalInterface
    public interface FlushAck {
        void flushed(int vcpu, long request);

        static FlushAck to(ActorRef<FlushDone> replyTo) {
            return (vcpu, request) -> replyTo.tell(new FlushDone(vcpu, request));
        }
    }

    public record FlushDone(int vcpu, long request) {
    }

    /** KVM's answer to an exit. */
    public sealed interface ExitReply extends Command {
    }

    /**
     * The entry is installed (or the fault should simply be retried): walk again. {@code address} is the exit's
     * address, telling which of several exits in flight this answers; -1: the oldest.
     */
    public record ExitResolved(long kvmRetries, long address) implements ExitReply {
        public ExitResolved(long kvmRetries) {
            this(kvmRetries, -1);
        }
    }

    /** Shadow mode: the guest's own page table does not allow the access; the guest kernel must handle it. */
    public record ExitGuestPageFault(long address) implements ExitReply {
        public ExitGuestPageFault() {
            this(-1);
        }
    }

    /** The access cannot be made: outside guest memory, or refused by the host. The guest sees a fault. */
    public record ExitGuestFault(String why, long address) implements ExitReply {
        public ExitGuestFault(String why) {
            this(why, -1);
        }
    }

    /** A guest page fault for the guest kernel. */
    public record GuestPageFault(int vcpu, int pid, long gva, boolean write, ActorRef<Command> replyTo) {
    }

    /** The guest kernel's answer to {@link GuestPageFault}. */
    public record GuestFaultHandled(GuestFaultResult result) implements Command {
    }

    /** The golden copy must forget pages whose contents were legitimately discarded (guest munmap, balloon). */
    public record Forget(int pid, long startVpn, long endVpn) implements Command {
    }

    public record GetStats(ActorRef<VcpuStats> replyTo) implements Command {
    }

    private enum Slice implements Command {
        INSTANCE
    }

    /** Without a grant (KVM not registered yet, or fenced), look again after this long. */
    private static final Duration FENCED_RETRY = Duration.ofMillis(1);

    /** Exits one vCPU keeps in flight while it runs ahead (1 would be the strict in-order vCPU). */
    static final int MAX_EXITS_IN_FLIGHT = 16;
    /**
     * Accesses run at most in one slice while exits are in flight: the slice then ends, so that their answers and
     * remote flushes (queued behind it) are not kept waiting for a whole slice.
     */
    static final int RUN_AHEAD = 256;
    /** A slice ends after this long even with budget left (looked at every {@link #CLOCK_EVERY} accesses). */
    private static final long MAX_SLICE_NANOS = 2_000_000;
    private static final int CLOCK_EVERY = 512;
    /** Accesses set aside at most; with that many the vCPU waits for an answer. */
    static final int MAX_DEFERRED = 1024;

    private static final int OK = 0;
    /** The access waits for an exit (sent now or already in flight): set it aside. */
    private static final int EXITED = -1;
    /** {@link #translate}: the access is given up, without blocking. */
    private static final int REFUSED = -2;
    /** A guest page fault went to the guest kernel for this access: set it aside and run nothing until answered. */
    private static final int FAULTED = -3;

    /** What KVM answered for an exit page, applied to the first set-aside access that exits on it again. */
    private static final byte VERDICT_GUEST_PAGE_FAULT = 1;
    private static final byte VERDICT_GUEST_FAULT = 2;

    /** A process pinned to this vCPU with its position in its workload. */
    private static final class Proc {
        final int pid;
        final long cr3;
        final Workload workload;
        final AccessBatch batch;
        final GoldenCopy golden;
        int cursor;
        boolean more = true;

        Proc(int pid, long cr3, Workload workload, int batchSize) {
            this.pid = pid;
            this.cr3 = cr3;
            this.workload = workload;
            this.batch = new AccessBatch(batchSize);
            this.golden = new GoldenCopy();
        }

        /** The same process with a new workload; what it wrote so far stays known. */
        Proc(Proc previous, Workload next, int batchSize) {
            this.pid = previous.pid;
            this.cr3 = previous.cr3;
            this.workload = next;
            this.batch = new AccessBatch(batchSize);
            this.golden = previous.golden;
        }

        /** No access left in the workload (set-aside accesses are the vCPU's, see {@link Vcpu#pickProcess}). */
        boolean done() {
            return !more && cursor == batch.size();
        }
    }

    /** Everything a vCPU needs from its VM. */
    public record Config(int id, long agent, KvmPort kvm, PhysicalMemory memory, CoherenceEvents events,
                         TlbGeometry tlb, int sliceAccesses, int flushAllThreshold, boolean goldenCheck,
                         ActorRef<GuestPageFault> guestKernel) {
    }

    private final Config cfg;
    private final int id;
    /**
     * Agent id of this vCPU's TLB translations for the oracle: KVM's when the port knows it, else the VM's. Fixed at
     * the first fill (KVM has started by then: it installed the entry), so installs and removals always match.
     */
    private long tlbAgent = -1;
    private final KvmPort kvm;
    private final KvmPort.Exits exits;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final boolean checkFrames;
    private final Tlb.Generations generations;
    private final boolean golden;
    /** Data TLB. */
    private final Tlb tlb;
    /** Instruction TLB, same geometry: fetches never evict data translations (as on x86's split L1 TLBs). */
    private final Tlb itlb;
    private final Walk walk = new Walk();
    private final List<Proc> procs = new ArrayList<>();
    private final List<ActorRef<Finished>> waiters = new ArrayList<>();

    private int current = -1;
    private long loadedCr3 = -1;
    private boolean running;
    private boolean sliceQueued;
    /** Nothing can run until a message comes (an exit answer, or the guest kernel's). */
    private boolean waiting;
    /** A guest page fault is with the guest kernel: nothing runs until it answers. */
    private boolean kernelPending;
    /** The slice budget ran out with other processes waiting: run no new access until the set-aside ones are done. */
    private boolean draining;

    // Set-aside accesses of the current process, in program order (a ring).
    private final long[] deferredVa = new long[MAX_DEFERRED];
    private final byte[] deferredKind = new byte[MAX_DEFERRED];
    /** Its miss was counted (it exited): its replay takes the uncounted path. */
    private final boolean[] deferredMissed = new boolean[MAX_DEFERRED];
    /** It is the access of the guest page fault with the guest kernel. */
    private final boolean[] deferredFaulted = new boolean[MAX_DEFERRED];
    private int deferredHead;
    private int deferredSize;
    /** Guest pages with a set-aside access: later accesses to them are set aside too, to keep their order. */
    private final PageSet blockedPages = new PageSet(MAX_DEFERRED);

    // Exits in flight: the page of each exit's address and whether it was a write.
    private final long[] inFlightPage = new long[MAX_EXITS_IN_FLIGHT];
    private final boolean[] inFlightWrite = new boolean[MAX_EXITS_IN_FLIGHT];
    private int inFlight;
    // Answers that are not "walk again", kept until the set-aside access exits on the page again.
    private final long[] verdictPage = new long[MAX_EXITS_IN_FLIGHT];
    private final byte[] verdict = new byte[MAX_EXITS_IN_FLIGHT];
    private int verdicts;
    /** Pages answered "resolved" since the last replay: exiting on one again is a retry. */
    private final PageSet resolvedPages = new PageSet(MAX_EXITS_IN_FLIGHT * 4);
    private long writeSeq;
    /** Instruction fetches read the frame too; folding the value here keeps the read from being optimized away. */
    private long sink;

    private long accesses;
    private long fetches;
    private long writes;
    private long exitCount;
    private long retries;
    private long guestPageFaults;
    private long guestFaults;
    private long flushRequests;
    private long i1Checks;
    private long i1Violations;
    private long i3Violations;
    private long slices;
    private long fencedSlices;

    public static Behavior<Command> create(Config config) {
        return Behaviors.setup(ctx -> new Vcpu(ctx, config));
    }

    private Vcpu(ActorContext<Command> context, Config cfg) {
        super(context);
        this.cfg = cfg;
        this.id = cfg.id();
        this.kvm = cfg.kvm();
        this.memory = cfg.memory();
        this.events = cfg.events();
        this.checkFrames = memory.checkMode();
        this.generations = memory::generation;
        // A word-level golden copy needs word-level contents.
        this.golden = cfg.goldenCheck() && isFullMode(memory);
        this.tlb = new Tlb(cfg.tlb());
        this.itlb = new Tlb(cfg.tlb());
        if (events.enabled()) {
            tlb.setDropListener((vpn, pfn, gen) -> events.translationRemoved(tlbAgent, dataCache(), loadedCr3,
                    vpn << GuestLayout.PAGE_SHIFT, pfn, gen));
            itlb.setDropListener((vpn, pfn, gen) -> events.translationRemoved(tlbAgent, dataCache() + 1,
                    loadedCr3, vpn << GuestLayout.PAGE_SHIFT, pfn, gen));
        }
        this.exits = kvm.connect(id, context);
    }

    /** Oracle cache id of this vCPU's data TLB; its instruction TLB is the next one. 0 is left for KVM's sptes. */
    private int dataCache() {
        return 1 + 2 * id;
    }

    private static boolean isFullMode(PhysicalMemory memory) {
        return memory.contentMode() == io.shadowmmu.config.ContentMode.FULL;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(AddProcess.class, this::onAddProcess)
                .onMessage(Start.class, this::onStart)
                .onMessageEquals(Slice.INSTANCE, this::onSlice)
                .onMessage(FlushTlb.class, this::onFlush)
                .onMessage(ExitResolved.class, this::onExitResolved)
                .onMessage(ExitGuestPageFault.class, this::onExitGuestPageFault)
                .onMessage(ExitGuestFault.class, this::onExitGuestFault)
                .onMessage(GuestFaultHandled.class, this::onGuestFaultHandled)
                .onMessage(Forget.class, this::onForget)
                .onMessage(GetStats.class, this::onGetStats)
                .build();
    }

    private Behavior<Command> onAddProcess(AddProcess m) {
        int batch = Math.min(cfg.sliceAccesses(), 4096);
        boolean replaced = false;
        for (int i = 0; i < procs.size(); i++) {
            Proc old = procs.get(i);
            if (old.pid == m.pid() && old.done()) {
                procs.set(i, new Proc(old, m.workload(), batch));
                replaced = true;
            }
        }
        if (!replaced) {
            procs.add(new Proc(m.pid(), m.cr3(), m.workload(), batch));
        }
        if (running) {
            scheduleSlice();
        }
        return this;
    }

    private Behavior<Command> onStart(Start m) {
        waiters.add(m.replyTo());
        running = true;
        scheduleSlice();
        return this;
    }

    private Behavior<Command> onFlush(FlushTlb m) {
        flushRequests++;
        if (m.all()) {
            tlb.flushAll();
            itlb.flushAll();
        } else {
            tlb.flushRange(m.startVpn(), m.endVpn(), cfg.flushAllThreshold());
            itlb.flushRange(m.startVpn(), m.endVpn(), cfg.flushAllThreshold());
        }
        m.ack().flushed(id, m.request());
        return this;
    }

    private Behavior<Command> onForget(Forget m) {
        for (Proc p : procs) {
            if (p.pid == m.pid()) {
                p.golden.forget(m.startVpn(), m.endVpn());
            }
        }
        return this;
    }

    private Behavior<Command> onGetStats(GetStats m) {
        m.replyTo().tell(stats());
        return this;
    }

    public VcpuStats stats() {
        return new VcpuStats(id, accesses, fetches, writes, tlb.stats(), itlb.stats(), exitCount, retries,
                guestPageFaults, guestFaults, flushRequests, i1Checks, i1Violations, i3Violations, slices,
                fencedSlices);
    }

    // ---- exits -----------------------------------------------------------------------------------------------

    private Behavior<Command> onExitResolved(ExitResolved m) {
        retries += m.kvmRetries();
        long page = answered(m.address());
        if (page >= 0) {
            resolvedPages.add(page);
        }
        wake();
        return this;
    }

    private Behavior<Command> onExitGuestPageFault(ExitGuestPageFault m) {
        addVerdict(answered(m.address()), VERDICT_GUEST_PAGE_FAULT);
        wake();
        return this;
    }

    private Behavior<Command> onExitGuestFault(ExitGuestFault m) {
        long page = answered(m.address());
        getContext().getLog().debug("vcpu {}: guest fault at page 0x{}: {}", id, Long.toHexString(page), m.why());
        addVerdict(page, VERDICT_GUEST_FAULT);
        wake();
        return this;
    }

    private Behavior<Command> onGuestFaultHandled(GuestFaultHandled m) {
        kernelPending = false;
        if (m.result() != GuestFaultResult.MAPPED) {
            dropFaultedAccess(m.result());
        }
        wake();
        return this;
    }

    /** Forgets the exit an answer is for (by its address; -1 or unknown: the oldest); returns its page. */
    private long answered(long address) {
        if (inFlight == 0) {
            return address < 0 ? -1 : address >>> GuestLayout.PAGE_SHIFT;
        }
        int k = 0;
        if (address >= 0) {
            long page = address >>> GuestLayout.PAGE_SHIFT;
            for (int i = 0; i < inFlight; i++) {
                if (inFlightPage[i] == page) {
                    k = i;
                    break;
                }
            }
        }
        long page = inFlightPage[k];
        inFlight--;
        System.arraycopy(inFlightPage, k + 1, inFlightPage, k, inFlight - k);
        System.arraycopy(inFlightWrite, k + 1, inFlightWrite, k, inFlight - k);
        return page;
    }

    private void addVerdict(long page, byte v) {
        if (page < 0 || verdicts == verdict.length) {
            return; // cannot happen: at most one verdict per exit in flight
        }
        verdictPage[verdicts] = page;
        verdict[verdicts] = v;
        verdicts++;
    }

    /** The verdict KVM gave for this page, consumed; 0 if none. */
    private byte takeVerdict(long page) {
        for (int i = 0; i < verdicts; i++) {
            if (verdictPage[i] == page) {
                byte v = verdict[i];
                verdicts--;
                System.arraycopy(verdictPage, i + 1, verdictPage, i, verdicts - i);
                System.arraycopy(verdict, i + 1, verdict, i, verdicts - i);
                return v;
            }
        }
        return 0;
    }

    /** The guest kernel did not map the page: the access that faulted is given up (the guest sees a fault). */
    private void dropFaultedAccess(GuestFaultResult result) {
        for (int k = 0; k < deferredSize; k++) {
            int i = (deferredHead + k) % MAX_DEFERRED;
            if (deferredFaulted[i]) {
                getContext().getLog().debug("vcpu {}: {} at 0x{}", id, result, Long.toHexString(deferredVa[i]));
                guestFaults++;
                removeDeferred(k);
                return;
            }
        }
    }

    private void wake() {
        if (!kernelPending) {
            waiting = false;
            scheduleSlice();
        }
    }

    private void guestPageFault(Proc p, long va, boolean write) {
        guestPageFaults++;
        kernelPending = true;
        cfg.guestKernel().tell(new GuestPageFault(id, p.pid, va, write, getContext().getSelf()));
    }

    // ---- set-aside accesses ------------------------------------------------------------------------------------

    private void defer(long va, byte kind, boolean missed, boolean faulted) {
        int i = (deferredHead + deferredSize) % MAX_DEFERRED;
        deferredVa[i] = va;
        deferredKind[i] = kind;
        deferredMissed[i] = missed;
        deferredFaulted[i] = faulted;
        deferredSize++;
        blockedPages.add(va >>> GuestLayout.PAGE_SHIFT);
    }

    private void removeDeferred(int k) {
        // Rare (a refused guest fault): shift the later entries down by one.
        for (int j = k; j < deferredSize - 1; j++) {
            int to = (deferredHead + j) % MAX_DEFERRED;
            int from = (deferredHead + j + 1) % MAX_DEFERRED;
            deferredVa[to] = deferredVa[from];
            deferredKind[to] = deferredKind[from];
            deferredMissed[to] = deferredMissed[from];
            deferredFaulted[to] = deferredFaulted[from];
        }
        deferredSize--;
        rebuildBlocked();
    }

    private void rebuildBlocked() {
        blockedPages.clear();
        for (int k = 0; k < deferredSize; k++) {
            blockedPages.add(deferredVa[(deferredHead + k) % MAX_DEFERRED] >>> GuestLayout.PAGE_SHIFT);
        }
    }

    /**
     * Retries the set-aside accesses in program order. One that still waits stays, and so does every later one of
     * its page; the others are done. Stops at a guest page fault (the rest stays set aside, in order).
     */
    private void replayDeferred(Proc p) {
        int n = deferredSize;
        int read = deferredHead;
        int write = deferredHead;
        int kept = 0;
        blockedPages.clear();
        int k = 0;
        for (; k < n && !kernelPending; k++) {
            long va = deferredVa[read];
            byte kind = deferredKind[read];
            boolean missed = deferredMissed[read];
            read = (read + 1) % MAX_DEFERRED;
            long vpn = va >>> GuestLayout.PAGE_SHIFT;
            boolean behind = blockedPages.contains(vpn);
            int r = behind ? EXITED : access(p, va, kind, missed);
            if (r == EXITED || r == FAULTED) {
                deferredVa[write] = va;
                deferredKind[write] = kind;
                deferredMissed[write] = missed || !behind;
                deferredFaulted[write] = r == FAULTED;
                write = (write + 1) % MAX_DEFERRED;
                kept++;
                blockedPages.add(vpn);
            }
        }
        for (; k < n; k++) { // after a guest page fault: keep the rest as it is
            deferredVa[write] = deferredVa[read];
            deferredKind[write] = deferredKind[read];
            deferredMissed[write] = deferredMissed[read];
            deferredFaulted[write] = deferredFaulted[read];
            blockedPages.add(deferredVa[read] >>> GuestLayout.PAGE_SHIFT);
            read = (read + 1) % MAX_DEFERRED;
            write = (write + 1) % MAX_DEFERRED;
            kept++;
        }
        deferredSize = kept;
        verdicts = 0; // a verdict whose access did not exit on its page again is void (the table changed meanwhile)
        resolvedPages.clear();
    }

    // ---- slices ----------------------------------------------------------------------------------------------

    private void scheduleSlice() {
        if (!sliceQueued && !waiting) {
            sliceQueued = true;
            getContext().getSelf().tell(Slice.INSTANCE);
        }
    }

    private Behavior<Command> onSlice() {
        sliceQueued = false;
        if (waiting || kernelPending || !running) {
            return this;
        }
        Proc p = pickProcess();
        if (p == null) {
            finish();
            return this;
        }
        AccessGrant grant = kvm.grant();
        if (grant == null || !grant.enter()) {
            // Not registered yet, or fenced: every translation is void. Drop them and wait for KVM to register.
            fencedSlices++;
            tlb.flushAll();
            itlb.flushAll();
            sliceQueued = true;
            getContext().scheduleOnce(FENCED_RETRY, getContext().getSelf(), Slice.INSTANCE);
            return this;
        }
        try {
            slices++;
            if (checkFrames) {
                // Once per slice instead of once per access: a first-level entry whose frame was freed and reused
                // leaves the first level, so its next hit takes the checked path and is reported there.
                tlb.revalidate(generations);
                itlb.revalidate(generations);
            }
            runSlice(p);
        } finally {
            grant.exit();
        }
        scheduleSlice();
        return this;
    }

    /**
     * Round robin over processes with work left; a CR3 switch flushes the TLB (no PCIDs). A process with accesses
     * set aside or exits in flight keeps the vCPU: their answers and replays belong to its CR3.
     */
    private Proc pickProcess() {
        if (current >= 0 && (deferredSize > 0 || inFlight > 0 || kernelPending)) {
            return procs.get(current);
        }
        draining = false;
        int n = procs.size();
        for (int k = 1; k <= n; k++) {
            int i = (current + k) % n;
            Proc p = procs.get(i);
            if (!p.done()) {
                if (current >= 0 && p.cr3 != loadedCr3 && loadedCr3 != -1) {
                    tlb.flushAll();
                    itlb.flushAll();
                }
                current = i;
                loadedCr3 = p.cr3;
                return p;
            }
        }
        return null;
    }

    private void runSlice(Proc p) {
        if (deferredSize > 0) {
            replayDeferred(p);
        }
        if (kernelPending || (draining && (deferredSize > 0 || inFlight > 0))
                || (deferredSize > 0 && kvm.inOrderExits())) {
            waitUnlessIdle();
            return;
        }
        int budget = cfg.sliceAccesses();
        long began = System.nanoTime();
        int ahead = 0;
        boolean exhausted = false;
        AccessBatch b = p.batch;
        while (budget > 0) {
            if (p.cursor == b.size()) {
                if (!p.more) {
                    exhausted = true;
                    break;
                }
                b.clear();
                p.cursor = 0;
                p.more = p.workload.fill(b);
                if (b.size() == 0) {
                    exhausted = true;
                    break;
                }
            }
            if (inFlight > 0 && ++ahead > RUN_AHEAD) {
                break; // end the slice early: the answers (and remote flushes) queued behind it are served now
            }
            if ((budget & (CLOCK_EVERY - 1)) == 0 && System.nanoTime() - began > MAX_SLICE_NANOS) {
                break; // a slow (preempted) slice must not hold a remote flush past the host's ack deadline
            }
            if (deferredSize == MAX_DEFERRED) {
                waitUnlessIdle();
                return;
            }
            long va = b.address(p.cursor);
            byte kind = b.kind(p.cursor);
            boolean behind = deferredSize > 0 && blockedPages.contains(va >>> GuestLayout.PAGE_SHIFT);
            int r = behind ? EXITED : access(p, va, kind, false);
            p.cursor++;
            budget--;
            if (r == EXITED) {
                defer(va, kind, !behind, false); // behind an earlier access of its page: not looked up yet
                if (kvm.inOrderExits()) {
                    waitUnlessIdle(); // the strict vCPU: nothing runs until the exit is answered
                    return;
                }
            } else if (r == FAULTED) {
                defer(va, kind, true, true);
                waitUnlessIdle();
                return;
            }
        }
        if (budget == 0 && procs.size() > 1 && (deferredSize > 0 || inFlight > 0)) {
            draining = true; // let the other processes in once these are done
        }
        if (exhausted || draining) {
            waitUnlessIdle(); // nothing new to run: wait for the answers, if any are due
        }
    }

    /** Waits for an answer, unless none can come (then the next slice replays at once). */
    private void waitUnlessIdle() {
        if (kernelPending || inFlight > 0) {
            waiting = true;
        }
    }

    /** One access: the hit path touches only the TLB's arrays and the frame. */
    private int access(Proc p, long va, byte kind, boolean replay) {
        boolean write = kind == AccessBatch.STORE || kind == AccessBatch.MODIFY;
        Tlb tlb = kind == AccessBatch.IFETCH ? this.itlb : this.tlb;
        long vpn = va >>> GuestLayout.PAGE_SHIFT;
        // The TLB's first level was revalidated when the slice began (check mode), so its hits need no check. An
        // access replayed after an exit was already counted as a miss: it takes the checked path, uncounted. A
        // first-level hit hands back the frame's words (never null) and no slot: the rare paths below that need the
        // slot find it with probe.
        long[] frame = replay ? null : tlb.hitFrame(vpn, write);
        int slot = -1;
        if (frame == null) {
            slot = translate(p, va, vpn, write, tlb, replay);
            if (slot < 0) {
                return slot == REFUSED ? OK : slot;
            }
            frame = tlb.frame(slot);
        }
        int word = (int) ((va & (GuestLayout.PAGE_SIZE - 1)) >>> 3);
        accesses++;
        if (kind == AccessBatch.IFETCH) {
            fetches++;
            sink ^= frame != null ? frame[word] : memory.read(tlb.pfn(slot), word);
            return OK;
        }
        if (kind != AccessBatch.STORE) {
            long actual = frame != null ? frame[word] : memory.read(tlb.pfn(slot), word);
            if (golden && p.golden.knows(va)) {
                i1Checks++;
                long expected = p.golden.expected(va);
                if (actual != expected) {
                    int used = slot >= 0 ? slot : tlb.probe(vpn);
                    staleRead(p, va, expected, actual, tlb.pfn(used), tlb.generation(used));
                }
            }
        }
        if (write) {
            writes++;
            long value = nextValue(p.pid, va);
            if (frame != null) {
                frame[word] = value;
            } else {
                memory.write(tlb.pfn(slot), word, value);
            }
            if (golden) {
                p.golden.wrote(va, value);
            }
        }
        return OK;
    }

    /**
     * A first-level miss: the TLB proper, the walk on a miss, and in check mode the generation check of the entry
     * used. Returns the slot to use, EXITED (the access waits for an exit), FAULTED (a guest page fault was sent),
     * or REFUSED (the access was given up: the frame KVM handed out is stale too, or KVM refused it).
     */
    private int translate(Proc p, long va, long vpn, boolean write, Tlb tlb, boolean replay) {
        int slot = replay ? tlb.probe(vpn) : tlb.lookup(vpn);
        if (slot < 0 || (write && !tlb.writable(slot))) {
            slot = fill(p, va, write, tlb);
            if (slot < 0) {
                return slot;
            }
        }
        if (checkFrames && memory.generation(tlb.pfn(slot)) != tlb.generation(slot)) {
            staleFrame(p, va, slot, tlb);
            slot = fill(p, va, write, tlb);
            if (slot < 0) {
                return slot;
            }
            if (memory.generation(tlb.pfn(slot)) != tlb.generation(slot)) {
                // KVM's own entry is stale too: refuse the access rather than touch a reused frame.
                staleFrame(p, va, slot, tlb);
                guestFaults++;
                return REFUSED;
            }
        }
        return slot;
    }

    /**
     * TLB miss: the hardware walk. Returns the TLB slot filled, EXITED (an exit is in flight for the entry the walk
     * needs: the access is retried when the answer comes), FAULTED (a guest page fault was sent) or REFUSED (KVM
     * answered that the access cannot be made: it is given up).
     */
    private int fill(Proc p, long va, boolean write, Tlb tlb) {
        long vpn = va >>> GuestLayout.PAGE_SHIFT;
        boolean guestWritable = true;
        long address;
        if (kvm.tdp()) {
            // Two-dimensional walk: the guest's tables are guest pages, each reached through the TDP table.
            long table = p.cr3 >>> GuestLayout.PAGE_SHIFT;
            long pte = Pte.NONE;
            for (int level = GuestLayout.LEVELS - 1; level >= 0; level--) {
                long entryGpa = GuestLayout.entryGpa(table, GuestLayout.index(va, level));
                if (!kvm.walk(p.cr3, entryGpa, false, walk)) {
                    return exit(p, va, write, entryGpa, false);
                }
                pte = memory.read(walk.pfn, (int) ((entryGpa & (GuestLayout.PAGE_SIZE - 1)) >>> 3));
                if (!Pte.isPresent(pte)) {
                    guestPageFault(p, va, write);
                    return FAULTED;
                }
                table = Pte.pfn(pte);
            }
            guestWritable = Pte.isWritable(pte);
            if (write && !guestWritable) {
                guestPageFault(p, va, true);
                return FAULTED;
            }
            address = (table << GuestLayout.PAGE_SHIFT) | (va & (GuestLayout.PAGE_SIZE - 1));
        } else {
            address = va;
        }
        if (!kvm.walk(p.cr3, address, write, walk) || (write && !walk.writable)) {
            return exit(p, va, write, address, write);
        }
        // A read fill leaves the entry read-only in the TLB, so the first write re-walks and the table records
        // the page dirty, as x86 does with the D bit.
        boolean canWrite = write && walk.writable && guestWritable;
        int slot = tlb.insert(vpn, walk.pfn, walk.generation, canWrite, memory.words(walk.pfn));
        if (events.enabled()) {
            if (tlbAgent < 0) {
                tlbAgent = kvm.agent() >= 0 ? kvm.agent() : cfg.agent();
            }
            events.translationInstalled(tlbAgent, tlb == this.tlb ? dataCache() : dataCache() + 1, p.cr3, vpn << GuestLayout.PAGE_SHIFT, walk.pfn,
                    walk.generation, canWrite);
        }
        return slot;
    }

    /**
     * The walk for the access at {@code va} found no usable entry for {@code address}: apply KVM's verdict on that
     * page if it gave one, else exit unless an exit for it is already in flight (or too many are).
     */
    private int exit(Proc p, long va, boolean accessWrite, long address, boolean write) {
        long page = address >>> GuestLayout.PAGE_SHIFT;
        if (verdicts > 0) {
            byte v = takeVerdict(page);
            if (v == VERDICT_GUEST_PAGE_FAULT) {
                guestPageFault(p, va, accessWrite);
                return FAULTED;
            }
            if (v == VERDICT_GUEST_FAULT) {
                guestFaults++;
                return REFUSED;
            }
        }
        for (int i = 0; i < inFlight; i++) {
            if (inFlightPage[i] == page && (inFlightWrite[i] || !write)) {
                return EXITED; // the answer to that exit serves this access too
            }
        }
        if (inFlight == MAX_EXITS_IN_FLIGHT) {
            return EXITED; // tried again when an answer comes
        }
        // KVM answered an exit for this very page, yet the entry is missing again: an invalidation raced the fault
        // (or KVM chose to retry). A 2-D walk exiting for the next table level is not a retry.
        if (resolvedPages.contains(page)) {
            retries++;
        }
        inFlightPage[inFlight] = page;
        inFlightWrite[inFlight] = write;
        inFlight++;
        exitCount++;
        exits.exit(p.cr3, address, write);
        return EXITED;
    }

    private void staleFrame(Proc p, long va, int slot, Tlb tlb) {
        i3Violations++;
        events.violation(Invariant.I3, cfg.agent(), "vcpu " + id + " pid " + p.pid + " TLB hit at 0x"
                + Long.toHexString(va) + " on pfn " + tlb.pfn(slot) + " generation " + tlb.generation(slot)
                + " but the frame is now generation " + memory.generation(tlb.pfn(slot)) + " (freed and reused)");
        tlb.invalidate(slot);
    }

    private void staleRead(Proc p, long va, long expected, long actual, int pfn, int translationGeneration) {
        i1Violations++;
        String detail = "vcpu " + id + " pid " + p.pid + " read 0x" + Long.toHexString(va) + ": expected 0x"
                + Long.toHexString(expected) + " actual 0x" + Long.toHexString(actual) + " in pfn " + pfn
                + " (translation generation " + translationGeneration + ", frame generation "
                + memory.generation(pfn) + ", frame owner " + memory.owner(pfn) + ", mapped by agent "
                + cfg.agent() + ")";
        if (i1Violations <= 10) {
            getContext().getLog().warn("I1 violation: {}", detail);
        }
        events.violation(Invariant.I1, cfg.agent(), detail);
    }

    /** A value unique to this write, so a stale read cannot match by accident. */
    private long nextValue(int pid, long va) {
        long x = (++writeSeq << 20) ^ ((long) id << 12) ^ pid ^ (va * 0x9E3779B97F4A7C15L);
        return x == 0 ? 1 : x;
    }

    private void finish() {
        running = false;
        VcpuStats s = stats();
        for (ActorRef<Finished> w : waiters) {
            w.tell(new Finished(id, s));
        }
        waiters.clear();
    }
}
