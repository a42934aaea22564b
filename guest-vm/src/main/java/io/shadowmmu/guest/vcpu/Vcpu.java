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
 * does, without a message; only when that table has no usable entry does the vCPU exit to KVM, wait for the reply
 * (still serving flushes), and retry the access. A missing guest page-table entry is a guest page fault, handled by
 * the guest kernel.
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

    /** The entry is installed (or the fault should simply be retried): walk again. */
    public record ExitResolved(long kvmRetries) implements ExitReply {
    }

    /** Shadow mode: the guest's own page table does not allow the access; the guest kernel must handle it. */
    public record ExitGuestPageFault() implements ExitReply {
    }

    /** The access cannot be made: outside guest memory, or refused by the host. The guest sees a fault. */
    public record ExitGuestFault(String why) implements ExitReply {
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

    private static final int OK = 0;
    private static final int BLOCKED = -1;
    /** {@link #translate}: the access is given up, without blocking. */
    private static final int REFUSED = -2;

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
    private boolean waiting;
    private boolean retrying;
    private boolean replay;
    private long lastExitPage = -1;
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
        resume(true);
        return this;
    }

    private Behavior<Command> onExitGuestPageFault(ExitGuestPageFault m) {
        Proc p = procs.get(current);
        long va = p.batch.address(p.cursor);
        guestPageFault(p, va, p.batch.writes(p.cursor));
        return this;
    }

    private Behavior<Command> onExitGuestFault(ExitGuestFault m) {
        Proc p = procs.get(current);
        getContext().getLog().debug("vcpu {} pid {}: guest fault at 0x{}: {}", id, p.pid,
                Long.toHexString(p.batch.address(p.cursor)), m.why());
        skipFaultedAccess(p);
        return this;
    }

    private Behavior<Command> onGuestFaultHandled(GuestFaultHandled m) {
        Proc p = procs.get(current);
        if (m.result() == GuestFaultResult.MAPPED) {
            resume(false);
        } else {
            getContext().getLog().debug("vcpu {} pid {}: {} at 0x{}", id, p.pid, m.result(),
                    Long.toHexString(p.batch.address(p.cursor)));
            skipFaultedAccess(p);
        }
        return this;
    }

    private void skipFaultedAccess(Proc p) {
        guestFaults++;
        p.cursor++;
        resume(false);
        replay = false;
    }

    private void resume(boolean afterKvmExit) {
        waiting = false;
        retrying = afterKvmExit;
        replay = true;
        scheduleSlice();
    }

    private void guestPageFault(Proc p, long va, boolean write) {
        guestPageFaults++;
        waiting = true;
        cfg.guestKernel().tell(new GuestPageFault(id, p.pid, va, write, getContext().getSelf()));
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
        if (waiting || !running) {
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

    /** Round robin over processes with work left; a CR3 switch flushes the TLB (no PCIDs). */
    private Proc pickProcess() {
        int n = procs.size();
        for (int k = 1; k <= n; k++) {
            int i = (current + k) % n;
            Proc p = procs.get(i);
            if (!p.done()) {
                if (i != current) {
                    replay = false;
                }
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
        int budget = cfg.sliceAccesses();
        AccessBatch b = p.batch;
        while (budget > 0) {
            if (p.cursor == b.size()) {
                if (!p.more) {
                    return;
                }
                b.clear();
                p.cursor = 0;
                p.more = p.workload.fill(b);
                if (b.size() == 0) {
                    return;
                }
            }
            int r = access(p, b.address(p.cursor), b.kind(p.cursor));
            if (r == BLOCKED) {
                return;
            }
            p.cursor++;
            budget--;
        }
    }

    /** One access: the hit path touches only the TLB's arrays and the frame. */
    private int access(Proc p, long va, byte kind) {
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
            slot = translate(p, va, vpn, write, tlb);
            if (slot < 0) {
                return slot == BLOCKED ? BLOCKED : OK;
            }
            frame = tlb.frame(slot);
        }
        replay = false;
        retrying = false;
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
     * used. Returns the slot to use, BLOCKED (an exit or a guest page fault was sent), or REFUSED (the access was
     * given up: the frame KVM handed out is stale too).
     */
    private int translate(Proc p, long va, long vpn, boolean write, Tlb tlb) {
        int slot = replay ? tlb.probe(vpn) : tlb.lookup(vpn);
        replay = false;
        if (slot < 0 || (write && !tlb.writable(slot))) {
            slot = fill(p, va, write, tlb);
            if (slot < 0) {
                return BLOCKED;
            }
        }
        if (checkFrames && memory.generation(tlb.pfn(slot)) != tlb.generation(slot)) {
            staleFrame(p, va, slot, tlb);
            slot = fill(p, va, write, tlb);
            if (slot < 0) {
                return BLOCKED;
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
     * TLB miss: the hardware walk. Returns the TLB slot filled, or BLOCKED after sending an exit or a guest page
     * fault (the access is retried when the answer comes), or after skipping a faulted access.
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
                    return exit(p.cr3, entryGpa, false);
                }
                pte = memory.read(walk.pfn, (int) ((entryGpa & (GuestLayout.PAGE_SIZE - 1)) >>> 3));
                if (!Pte.isPresent(pte)) {
                    guestPageFault(p, va, write);
                    return BLOCKED;
                }
                table = Pte.pfn(pte);
            }
            guestWritable = Pte.isWritable(pte);
            if (write && !guestWritable) {
                guestPageFault(p, va, true);
                return BLOCKED;
            }
            address = (table << GuestLayout.PAGE_SHIFT) | (va & (GuestLayout.PAGE_SIZE - 1));
        } else {
            address = va;
        }
        if (!kvm.walk(p.cr3, address, write, walk) || (write && !walk.writable)) {
            return exit(p.cr3, address, write);
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

    private int exit(long cr3, long address, boolean write) {
        // KVM answered the previous exit for this very page, yet the entry is missing again: an invalidation
        // raced the fault (or KVM chose to retry). A 2-D walk exiting for the next table level is not a retry.
        if (retrying && (address >>> GuestLayout.PAGE_SHIFT) == lastExitPage) {
            retries++;
        }
        lastExitPage = address >>> GuestLayout.PAGE_SHIFT;
        exitCount++;
        waiting = true;
        exits.exit(cr3, address, write);
        return BLOCKED;
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
