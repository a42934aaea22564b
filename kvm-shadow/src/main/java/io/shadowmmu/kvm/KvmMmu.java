package io.shadowmmu.kvm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * KVM's MMU for one VM ({@code struct kvm} + {@code arch/x86/kvm/mmu}): memslots, the TDP or shadow tables its
 * vCPUs walk, and a notifier subscriber of the VM's host process. A fault samples the invalidate sequence before
 * asking the host for the page and re-checks it and the in-progress ranges before installing
 * ({@code mmu_invalidate_retry_gfn}); an invalidation zaps the sptes of the gfns behind the hva ranges and
 * acknowledges the host only after every vCPU acknowledged a remote TLB flush issued after the zap.
 */
public final class KvmMmu extends AbstractBehavior<KvmCommand> {

    /**
     * @param name          for logs and stories
     * @param mm            the VM's host process ("QEMU")
     * @param memslots      guest memory layout
     * @param view          the tables vCPUs walk (TDP or shadow)
     * @param sequenceStart first value of the 64-bit invalidate sequence (tests start it near the wrap)
     */
    public record Config(String name, ActorRef<MmCommand> mm, long mmId, List<Memslot> memslots, KvmView view,
                         PhysicalMemory memory, CoherenceEvents events, long sequenceStart, Variant variant) {
        /** The correct protocol. */
        public Config(String name, ActorRef<MmCommand> mm, long mmId, List<Memslot> memslots, KvmView view,
                      PhysicalMemory memory, CoherenceEvents events, long sequenceStart) {
            this(name, mm, mmId, memslots, view, memory, events, sequenceStart, Variant.NONE);
        }
    }

    private record Notified(MmuNotification notification) implements KvmCommand.Internal {
    }

    private record Registered(MmCommand.Registered registration) implements KvmCommand.Internal {
    }

    private record Paged(Fault fault, long sampled, long ptSampled, PageReply reply) implements KvmCommand.Internal {
    }

    private record HostWrote(GuestWrite write, MmResult result) implements KvmCommand.Internal {
    }

    private record PtPageIn(Fault fault, PageReply reply) implements KvmCommand.Internal {
    }

    /** A connected vCPU's flush endpoint stopped: it holds no translation any more and will never answer a flush. */
    private record VcpuGone(int vcpu, ActorRef<KvmCommand.FlushTlb> flushes) implements KvmCommand.Internal {
    }

    /** One vCPU exit in progress. */
    private static final class Fault {
        final int vcpu;
        final boolean tdp;
        final long cr3;
        final long address;
        final boolean write;
        final ActorRef<KvmCommand.FaultReply> replyTo;
        long retries;
        // Resolved by the walk.
        long gfn;
        long hva;
        Memslot slot;
        boolean guestWritable;
        List<long[]> tables = List.of(); // shadow mode: {tableGfn, blockBase, level} of the guest walk

        Fault(int vcpu, boolean tdp, long cr3, long address, boolean write, ActorRef<KvmCommand.FaultReply> replyTo) {
            this.vcpu = vcpu;
            this.tdp = tdp;
            this.cr3 = cr3;
            this.address = address;
            this.write = write;
            this.replyTo = replyTo;
        }
    }

    /** A guest-kernel write in progress, word by word. */
    private static final class GuestWrite {
        final KvmCommand.WriteGuest request;
        int next;
        int trapped;
        String error;

        GuestWrite(KvmCommand.WriteGuest request) {
            this.request = request;
        }
    }

    private static final Duration HOST_TIMEOUT = Duration.ofSeconds(60);
    private static final long PAGE = 4096;
    private static final int SPACE_TDP = -1;

    private final Config config;
    private final KvmView view;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final long agent;
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registrations;

    private long subscription = -1;
    private PageTableWalker hostTable;
    private long sequence;
    private long ptSequence;
    private final List<Range> inProgress = new ArrayList<>();
    private final List<Fault> parked = new ArrayList<>();

    /** Shadow mode: gfn to the shadow entries mapping it, {cr3, gva}. */
    private final TreeMap<Long, List<long[]>> rmap = new TreeMap<>();
    /** Shadow mode: guest page-table pages walked, gfn to {cr3, blockBase, level} they translate. */
    private final Map<Long, Set<List<Long>>> guestTables = new HashMap<>();

    private final Map<Integer, ActorRef<KvmCommand.FlushTlb>> vcpus = new HashMap<>();
    private long flushId;
    private final Set<Integer> flushAwaiting = new HashSet<>();
    private List<Runnable> flushWaiters = new ArrayList<>();
    private List<Runnable> flushQueued = new ArrayList<>();
    private boolean flushInFlight;
    /** sptes removed so far, and how many of those a completed flush round covers ({@code tlbs_dirty}). */
    private long zapsIssued;
    private long zapsFlushed;
    private long roundCovers;

    private long faults;
    private long retries;
    private long installs;
    private long invalidations;
    private long invalidationsHitLive;
    private long zapped;
    private long flushes;
    private long coalesced;
    private long guestPageFaults;
    private long guestFaults;
    private long ptWritesTrapped;
    private long fences;

    public static Behavior<KvmCommand> create(Config config) {
        return Behaviors.setup(ctx -> new KvmMmu(ctx, config));
    }

    private KvmMmu(ActorContext<KvmCommand> context, Config config) {
        super(context);
        this.config = config;
        this.view = config.view();
        this.memory = config.memory();
        this.events = config.events();
        this.sequence = config.sequenceStart();
        this.agent = view.agent() >= 0 ? view.agent() : AgentIds.next();
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
        this.registrations = context.messageAdapter(MmCommand.Registered.class, Registered::new);
        events.agentNamed(agent, "kvm " + config.name());
        register();
    }

    private void register() {
        config.mm().tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, "kvm " + config.name(), null,
                registrations));
    }

    @Override
    public Receive<KvmCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(KvmCommand.ConnectVcpu.class, this::onConnect)
                .onMessage(KvmCommand.TlbFlushed.class, this::onFlushed)
                .onMessage(VcpuGone.class, this::onVcpuGone)
                .onMessage(KvmCommand.TdpFault.class, f -> {
                    faults++;
                    handle(new Fault(f.vcpu(), true, 0, f.gpa(), f.write(), f.replyTo()));
                    return this;
                })
                .onMessage(KvmCommand.ShadowFault.class, f -> {
                    faults++;
                    handle(new Fault(f.vcpu(), false, f.cr3(), f.gva(), f.write(), f.replyTo()));
                    return this;
                })
                .onMessage(Paged.class, this::onPaged)
                .onMessage(PtPageIn.class, p -> {
                    if (p.reply() instanceof PageReply.Denied) {
                        guestFault(p.fault(), "guest page table unreadable: " + ((PageReply.Denied) p.reply()).detail());
                    } else {
                        handle(p.fault());
                    }
                    return this;
                })
                .onMessage(KvmCommand.WriteGuest.class, w -> {
                    writeNext(new GuestWrite(w));
                    return this;
                })
                .onMessage(HostWrote.class, this::onHostWrote)
                .onMessage(Notified.class, n -> onNotification(n.notification()))
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(KvmCommand.EnableDirtyLog.class, this::onEnableDirtyLog)
                .onMessage(KvmCommand.GetDirtyLog.class, this::onGetDirtyLog)
                .onMessage(KvmCommand.GetStats.class, g -> {
                    g.replyTo().tell(new KvmStats(faults, retries, installs, invalidations, invalidationsHitLive,
                            zapped, flushes, coalesced, guestPageFaults, guestFaults, ptWritesTrapped, fences));
                    return this;
                })
                .build();
    }

    // ---- registration -----------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onRegistered(Registered r) {
        MmCommand.Registered reg = r.registration();
        subscription = reg.subscription();
        hostTable = reg.pageTable();
        for (MmCommand.InFlight f : reg.inFlight()) {
            inProgress.addAll(f.ranges());
        }
        view.grant = reg.grant();
        retryParked();
        return this;
    }

    // ---- faults -------------------------------------------------------------------------------------------------

    private void handle(Fault f) {
        if (view.grant == null) {
            parked.add(f); // not registered (yet, or again after a fence): nothing may be installed
            return;
        }
        if (f.tdp) {
            f.gfn = f.address >>> 12;
            f.guestWritable = true;
        } else if (!walkGuest(f)) {
            return;
        }
        f.slot = slotOf(f.gfn);
        if (f.slot == null) {
            guestFault(f, "gpa 0x" + Long.toHexString(f.gfn << 12) + " is outside guest memory");
            return;
        }
        if (f.write && f.slot.readOnly()) {
            guestFault(f, "write to read-only " + f.slot);
            return;
        }
        f.hva = f.slot.hvaOf(f.gfn);
        if (Range.anyContains(inProgress, f.hva)) {
            parked.add(f); // an invalidation of it is running: retry when it ends
            return;
        }
        long sampled = sequence; // mmu_invalidate_seq, read before asking the host
        long ptSampled = ptSequence;
        getContext().ask(PageReply.class, config.mm(), HOST_TIMEOUT,
                replyTo -> new MmCommand.GetUserPage(f.hva, f.write, replyTo),
                (reply, failure) -> new Paged(f, sampled, ptSampled, reply != null ? reply
                        : new PageReply.Denied(f.hva, Errno.EAGAIN, "host did not answer")));
    }

    private Behavior<KvmCommand> onPaged(Paged p) {
        Fault f = p.fault();
        if (p.reply() instanceof PageReply.Denied) {
            PageReply.Denied d = (PageReply.Denied) p.reply();
            if (d.errno() == Errno.EAGAIN && f.retries < 1000) {
                f.retries++;
                retries++;
                handle(f);
            } else {
                guestFault(f, "host refused gpa 0x" + Long.toHexString(f.gfn << 12) + ": " + d.detail());
            }
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        // mmu_invalidate_retry_gfn: the answer predates an invalidation (or a guest page-table write), so it may
        // name a frame that is already revoked. Never install it; fault again.
        boolean stale = p.sampled() != sequence || Range.anyContains(inProgress, f.hva) || p.ptSampled() != ptSequence;
        if ((stale && config.variant() != Variant.NO_FAULT_RETRY) || view.grant == null) {
            f.retries++;
            retries++;
            handle(f);
            return this;
        }
        install(f, g);
        return this;
    }

    private void install(Fault f, PageReply.Granted g) {
        if (!f.tdp && f.write && f.guestWritable && guestTables.containsKey(f.gfn)) {
            unprotect(f.gfn);
        }
        boolean dirtyLogging = f.slot.dirtyLogging();
        boolean writable = g.writable() && f.guestWritable && !f.slot.readOnly() && (f.write || !dirtyLogging)
                && (f.tdp || !guestTables.containsKey(f.gfn)); // shadowed page tables stay write-protected
        long spte = Spte.make(g.pfn(), g.generation(), writable);
        long key;
        PageTable table;
        long space;
        if (f.tdp) {
            key = f.gfn << 12;
            table = view.tdpTable;
            space = SPACE_TDP;
        } else {
            key = f.address & ~(PAGE - 1);
            table = view.shadowRoots.computeIfAbsent(f.cr3, k -> new PageTable());
            space = f.cr3;
            addRmap(f.gfn, f.cr3, key);
            for (long[] t : f.tables) {
                if (!guestTables.containsKey(t[0])) {
                    writeProtectGfn(t[0]); // newly shadowed: its writable mappings must trap from now on
                }
                guestTables.computeIfAbsent(t[0], k -> new HashSet<>()).add(List.of(f.cr3, t[1], t[2]));
            }
        }
        long old = table.getAndSet(key, spte);
        if (Spte.present(old)) {
            events.translationRemoved(agent, 0, space, key, Spte.pfn(old), Spte.generation(old));
            carryDirty(table, key, spte, old);
        }
        events.translationInstalled(agent, 0, space, key, g.pfn(), g.generation(), writable);
        if (f.write && dirtyLogging) {
            f.slot.markDirty(f.gfn);
        }
        installs++;
        f.replyTo.tell(new KvmCommand.Resolved(f.retries));
    }

    /**
     * Shadow mode: walks the guest's own page tables (in guest memory, read through the host's page table as the
     * hardware would). False when the fault was answered or is waiting for a guest page-table page to be paged in.
     */
    private boolean walkGuest(Fault f) {
        long tableGpa = f.cr3;
        boolean writable = true;
        List<long[]> tables = new ArrayList<>(4);
        for (int level = 3; level >= 0; level--) {
            int index = (int) ((f.address >>> (12 + 9 * level)) & 511);
            long tableGfn = tableGpa >>> 12;
            long blockSize = PAGE << (9 * (level + 1));
            tables.add(new long[] {tableGfn, f.address & ~(blockSize - 1), level});
            long entry = readGuestWord(f, (tableGfn << 12) + index * 8L);
            if (entry == NEEDS_PAGE_IN || entry == UNREADABLE) {
                return false;
            }
            if (!Pte.isPresent(entry)) {
                guestPageFault(f, "no guest mapping at level " + level);
                return false;
            }
            writable &= Pte.isWritable(entry);
            tableGpa = (long) Pte.pfn(entry) << 12;
        }
        if (f.write && !writable) {
            guestPageFault(f, "guest mapping is read-only");
            return false;
        }
        f.gfn = tableGpa >>> 12;
        f.guestWritable = writable;
        f.tables = tables;
        return true;
    }

    private static final long NEEDS_PAGE_IN = Long.MIN_VALUE + 1;
    private static final long UNREADABLE = Long.MIN_VALUE + 2;

    /** Reads one word of guest memory through the host page table, seqlock style; pages it in when absent. */
    private long readGuestWord(Fault f, long gpa) {
        Memslot slot = slotOf(gpa >>> 12);
        if (slot == null) {
            guestFault(f, "guest page table at gpa 0x" + Long.toHexString(gpa) + " is outside guest memory");
            return UNREADABLE;
        }
        long hva = slot.hvaOf(gpa >>> 12);
        for (int attempt = 0; attempt < 8; attempt++) {
            long pte = hostTable.get(hva);
            if (!Pte.isPresent(pte)) {
                getContext().ask(PageReply.class, config.mm(), HOST_TIMEOUT,
                        replyTo -> new MmCommand.GetUserPage(hva, false, replyTo),
                        (reply, failure) -> new PtPageIn(f, reply != null ? reply
                                : new PageReply.Denied(hva, Errno.EAGAIN, "host did not answer")));
                return NEEDS_PAGE_IN;
            }
            long value = memory.read(Pte.pfn(pte), (int) ((gpa & (PAGE - 1)) >>> 3));
            if (hostTable.get(hva) == pte) {
                return value; // the frame was mapped all along: the value is from the right page
            }
        }
        getContext().ask(PageReply.class, config.mm(), HOST_TIMEOUT,
                replyTo -> new MmCommand.GetUserPage(hva, false, replyTo),
                (reply, failure) -> new PtPageIn(f, reply));
        return NEEDS_PAGE_IN;
    }

    private void guestFault(Fault f, String why) {
        guestFaults++;
        f.replyTo.tell(new KvmCommand.GuestFault(why));
    }

    private void guestPageFault(Fault f, String why) {
        guestPageFaults++;
        f.replyTo.tell(new KvmCommand.GuestPageFault(f.address, f.write, why));
    }

    private void retryParked() {
        if (parked.isEmpty()) {
            return;
        }
        List<Fault> again = new ArrayList<>(parked);
        parked.clear();
        for (Fault f : again) {
            handle(f);
        }
    }

    // ---- guest kernel writes ------------------------------------------------------------------------------------

    private void writeNext(GuestWrite w) {
        long[] gpas = w.request.gpas();
        while (w.next < gpas.length) {
            long gpa = gpas[w.next];
            long value = w.request.values()[w.next];
            Memslot slot = slotOf(gpa >>> 12);
            if (slot == null || (gpa & 7) != 0) {
                w.error = "guest write to gpa 0x" + Long.toHexString(gpa) + " outside guest memory or unaligned";
                break;
            }
            long hva = slot.hvaOf(gpa >>> 12) + (gpa & (PAGE - 1));
            long pageHva = hva & ~(PAGE - 1);
            long pte = hostTable == null ? Pte.NONE : hostTable.get(pageHva);
            if (Pte.isPresent(pte) && Pte.isWritable(pte)
                    && hostTable.setHardwareBits(pageHva, pte, Pte.ACCESSED | Pte.DIRTY)) {
                memory.write(Pte.pfn(pte), (int) ((gpa & (PAGE - 1)) >>> 3), value);
                trapIfShadowed(w, gpa);
                w.next++;
                continue;
            }
            // Not writable in the host right now: let the host fault it in (or break COW) and write it.
            getContext().ask(MmResult.class, config.mm(), HOST_TIMEOUT,
                    replyTo -> new MmCommand.Access(hva, true, value, replyTo),
                    (result, failure) -> new HostWrote(w, result != null ? result
                            : new MmResult.Failed(Errno.EAGAIN, "host did not answer")));
            return;
        }
        finishWrite(w);
    }

    private Behavior<KvmCommand> onHostWrote(HostWrote h) {
        GuestWrite w = h.write();
        if (!h.result().ok()) {
            w.error = "guest write failed in the host: " + h.result();
            finishWrite(w);
            return this;
        }
        trapIfShadowed(w, w.request.gpas()[w.next]);
        w.next++;
        writeNext(w);
        return this;
    }

    /**
     * The guest writes to a page KVM shadows as a page table through its own mapping: the guest no longer uses it as
     * one (a freed table reused as data). Drop every shadow entry built from it and stop write-protecting it; a later
     * walk through it shadows it again.
     */
    private void unprotect(long gfn) {
        for (List<Long> use : guestTables.remove(gfn)) {
            long span = PAGE << (9 * (use.get(2) + 1));
            zapShadowRange(use.get(0), use.get(1), use.get(1) + span, null);
        }
        requestFlush(() -> { });
    }

    private void writeProtectGfn(long gfn) {
        for (long[] m : rmap.getOrDefault(gfn, List.of())) {
            PageTable root = view.shadowRoots.get(m[0]);
            if (root != null && Spte.writable(root.get(m[1]))) {
                root.clearBits(m[1], Spte.WRITABLE);
                zapsIssued++; // a vCPU may still write through its cached entry until it flushes
            }
        }
    }

    /** A store to a guest page table KVM shadows: zap the shadow entries that the changed guest entry covered. */
    private void trapIfShadowed(GuestWrite w, long gpa) {
        if (view.tdp()) {
            return;
        }
        Set<List<Long>> uses = guestTables.get(gpa >>> 12);
        if (uses == null) {
            return;
        }
        ptSequence++;
        w.trapped++;
        ptWritesTrapped++;
        int index = (int) ((gpa & (PAGE - 1)) >>> 3);
        for (List<Long> use : uses) {
            long cr3 = use.get(0);
            long blockBase = use.get(1);
            int level = (int) (long) use.get(2);
            long span = PAGE << (9 * level);
            long start = blockBase + index * span;
            zapShadowRange(cr3, start, start + span, null);
        }
    }

    private void finishWrite(GuestWrite w) {
        KvmCommand.GuestWritten done = new KvmCommand.GuestWritten(w.next, w.trapped, w.error);
        if (w.trapped > 0) {
            requestFlush(() -> w.request.replyTo().tell(done));
        } else {
            w.request.replyTo().tell(done);
        }
    }

    // ---- host notifications -------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onNotification(MmuNotification n) {
        if (n instanceof MmuNotification.Fenced) {
            onFenced((MmuNotification.Fenced) n);
            return this;
        }
        if (n.subscription() != subscription) {
            return this; // meant for a registration that was fenced
        }
        if (n instanceof MmuNotification.InvalidateStart) {
            onStart((MmuNotification.InvalidateStart) n);
        } else if (n instanceof MmuNotification.InvalidateEnd) {
            sequence++; // 64-bit: compared with == only, so it may wrap freely
            for (Range r : ((MmuNotification.InvalidateEnd) n).ranges()) {
                inProgress.remove(r);
            }
            retryParked();
        } else if (n instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) n;
            zapAll();
            requestFlush(() -> r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch())));
        } else if (n instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung q = (MmuNotification.ClearYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), young(q.range(), true)));
        } else if (n instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung q = (MmuNotification.TestYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), young(q.range(), false)));
        }
        return this;
    }

    /** invalidate_range_start: in progress, zap, flush every vCPU, then ack with the dirty pages found. */
    private void onStart(MmuNotification.InvalidateStart s) {
        invalidations++;
        inProgress.addAll(s.ranges());
        List<Range> dirty = new ArrayList<>();
        long before = zapped;
        for (Range r : s.ranges()) {
            for (Memslot slot : config.memslots()) {
                long[] gfns = slot.gfnsOfHvaRange(r.start(), r.end());
                if (gfns != null) {
                    zapGfns(slot, gfns[0], gfns[1], dirty);
                }
            }
        }
        NotifierReply ack = new NotifierReply.Ack(s.subscription(), s.batch(), coalesce(dirty));
        if (config.variant() == Variant.ACK_BEFORE_FLUSH) {
            // Broken on purpose: the host hears "done" while vCPUs may still hold what was just zapped.
            s.replyTo().tell(ack);
            requestFlush(() -> { });
            return;
        }
        if (zapped == before && zapsIssued == zapsFlushed) {
            s.replyTo().tell(ack); // nothing mapped and no zap awaits its flush: no vCPU can hold a translation
            return;
        }
        if (zapped == before && flushInFlight && roundCovers == zapsIssued) {
            coalesced++;
            flushWaiters.add(() -> s.replyTo().tell(ack)); // the round in flight already covers every zap
            return;
        }
        if (zapped != before) {
            invalidationsHitLive++;
        }
        requestFlush(() -> s.replyTo().tell(ack));
    }

    private void zapGfns(Memslot slot, long firstGfn, long endGfn, List<Range> dirty) {
        if (view.tdp()) {
            view.tdpTable.forEachEntry(firstGfn << 12, endGfn << 12, (gpa, spte) -> {
                long old = view.tdpTable.getAndClear(gpa);
                zapped(old, SPACE_TDP, gpa, slot.hvaOf(gpa >>> 12), dirty);
            });
            return;
        }
        for (Map.Entry<Long, List<long[]>> e : List.copyOf(rmap.subMap(firstGfn, endGfn).entrySet())) {
            long hva = slot.hvaOf(e.getKey());
            for (long[] m : e.getValue()) {
                PageTable root = view.shadowRoots.get(m[0]);
                if (root != null) {
                    zapped(root.getAndClear(m[1]), m[0], m[1], hva, dirty);
                }
            }
            rmap.remove(e.getKey());
        }
    }

    private void zapShadowRange(long cr3, long start, long end, List<Range> dirty) {
        PageTable root = view.shadowRoots.get(cr3);
        if (root == null) {
            return;
        }
        root.forEachEntry(start, end, (gva, spte) -> {
            long old = root.getAndClear(gva);
            if (Spte.present(old)) {
                events.translationRemoved(agent, 0, cr3, gva, Spte.pfn(old), Spte.generation(old));
                zapped++;
                zapsIssued++;
                keepDirty(old);
            }
        });
    }

    private void zapped(long old, long space, long key, long hva, List<Range> dirty) {
        if (!Spte.present(old)) {
            return;
        }
        zapped++;
        zapsIssued++;
        events.translationRemoved(agent, 0, space, key, Spte.pfn(old), Spte.generation(old));
        if (Spte.dirty(old) && dirty != null) {
            dirty.add(new Range(hva, hva + PAGE)); // written through the spte: the host must know (I6)
            events.frameDirtiedBySecondary(agent, Spte.pfn(old), Spte.generation(old));
        } else {
            keepDirty(old);
        }
    }

    /**
     * A racing fault installed the entry first and the guest wrote through it: only the old entry's dirty bit knows
     * ({@code mmu_spte_update} marks the pfn dirty). The same frame's new entry carries the bit on, so the next zap
     * reports the page; another frame keeps it itself.
     */
    private void carryDirty(PageTable table, long key, long installed, long old) {
        if (!Spte.dirty(old)) {
            return;
        }
        if (Spte.pfn(old) == Spte.pfn(installed) && Spte.generation(old) == Spte.generation(installed)) {
            table.setBits(key, Spte.DIRTY);
        } else {
            keepDirty(old);
        }
    }

    /**
     * An spte dropped outside an invalidation (guest page-table write, fence) loses its dirty bit unless the frame
     * keeps it ({@code kvm_set_pfn_dirty}); the generation check skips a frame the host already reused.
     */
    private void keepDirty(long old) {
        if (Spte.dirty(old) && memory.generation(Spte.pfn(old)) == Spte.generation(old)) {
            memory.setFlag(Spte.pfn(old), PhysicalMemory.FLAG_DIRTY);
        }
    }

    private void zapAll() {
        if (view.tdp()) {
            view.tdpTable.forEachEntry(0, view.guestFrames() << 12, (gpa, spte) ->
                    zapped(view.tdpTable.getAndClear(gpa), SPACE_TDP, gpa, 0, null));
        } else {
            for (Map.Entry<Long, PageTable> root : view.shadowRoots.entrySet()) {
                zapShadowRange(root.getKey(), 0, PageTable.VA_LIMIT, null);
            }
            rmap.clear();
            guestTables.clear();
        }
    }

    private boolean young(Range hvaRange, boolean clear) {
        boolean young = false;
        for (Memslot slot : config.memslots()) {
            long[] gfns = slot.gfnsOfHvaRange(hvaRange.start(), hvaRange.end());
            if (gfns == null) {
                continue;
            }
            for (long gfn = gfns[0]; gfn < gfns[1]; gfn++) {
                if (view.tdp()) {
                    young |= accessed(view.tdpTable, gfn << 12, clear);
                } else {
                    for (long[] m : rmap.getOrDefault(gfn, List.of())) {
                        PageTable root = view.shadowRoots.get(m[0]);
                        young |= root != null && accessed(root, m[1], clear);
                    }
                }
            }
        }
        return young;
    }

    private static boolean accessed(PageTable table, long key, boolean clear) {
        long spte = clear ? table.clearBits(key, Spte.ACCESSED) : table.get(key);
        return Spte.present(spte) && Spte.accessed(spte);
    }

    private void onFenced(MmuNotification.Fenced f) {
        if (f.subscription() != subscription) {
            return;
        }
        fences++;
        getContext().getLog().warn("kvm {}: fenced by the host ({}); dropping every spte and registering again",
                config.name(), f.reason());
        view.grant = null;
        subscription = -1;
        zapAll();
        inProgress.clear();
        sequence++; // whatever a fault sampled before the fence is stale
        requestFlush(() -> { });
        register();
    }

    // ---- dirty logging ------------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onEnableDirtyLog(KvmCommand.EnableDirtyLog e) {
        Memslot slot = slotById(e.slot());
        if (slot == null) {
            e.replyTo().tell(new KvmCommand.DirtyLog(e.slot(), new long[0]));
            return this;
        }
        slot.setDirtyLogging(true);
        slot.takeDirtyBitmap();
        writeProtect(slot);
        requestFlush(() -> e.replyTo().tell(new KvmCommand.DirtyLog(slot.id(), new long[(int) ((slot.pages() + 63)
                / 64)])));
        return this;
    }

    private Behavior<KvmCommand> onGetDirtyLog(KvmCommand.GetDirtyLog g) {
        Memslot slot = slotById(g.slot());
        if (slot == null) {
            g.replyTo().tell(new KvmCommand.DirtyLog(g.slot(), new long[0]));
            return this;
        }
        // Take the bitmap and protect in the same handler: a write fault served after this marks the next log.
        // The reply waits for the flush, so no vCPU still writes through a stale writable entry.
        long[] bitmap = slot.takeDirtyBitmap();
        writeProtect(slot);
        requestFlush(() -> g.replyTo().tell(new KvmCommand.DirtyLog(slot.id(), bitmap)));
        return this;
    }

    private void writeProtect(Memslot slot) {
        long first = slot.baseGfn();
        long end = first + slot.pages();
        if (view.tdp()) {
            view.tdpTable.forEachEntry(first << 12, end << 12, (gpa, spte) ->
                    view.tdpTable.clearBits(gpa, Spte.WRITABLE));
            return;
        }
        for (Map.Entry<Long, List<long[]>> e : rmap.subMap(first, end).entrySet()) {
            for (long[] m : e.getValue()) {
                PageTable root = view.shadowRoots.get(m[0]);
                if (root != null) {
                    root.clearBits(m[1], Spte.WRITABLE);
                }
            }
        }
    }

    // ---- remote TLB flush ---------------------------------------------------------------------------------------

    /**
     * Runs {@code then} once every vCPU flushed in a round that started after this call. A request that arrives
     * while a round is in flight waits for the next round, which every request queued meanwhile shares.
     */
    private void requestFlush(Runnable then) {
        if (vcpus.isEmpty()) {
            zapsFlushed = zapsIssued;
            then.run();
            return;
        }
        if (flushInFlight) {
            coalesced++;
            flushQueued.add(then);
            return;
        }
        startFlushRound(new ArrayList<>(List.of(then)));
    }

    private void startFlushRound(List<Runnable> waiters) {
        flushInFlight = true;
        roundCovers = zapsIssued;
        flushWaiters = waiters;
        flushId++;
        flushAwaiting.clear();
        flushAwaiting.addAll(vcpus.keySet());
        KvmCommand.FlushTlb request = new KvmCommand.FlushTlb(flushId, getContext().getSelf());
        for (ActorRef<KvmCommand.FlushTlb> v : vcpus.values()) {
            v.tell(request);
        }
        if (flushAwaiting.isEmpty()) {
            finishRound(); // every vCPU left while the round was queued
        }
    }

    private Behavior<KvmCommand> onConnect(KvmCommand.ConnectVcpu c) {
        ActorRef<KvmCommand.FlushTlb> previous = vcpus.put(c.vcpu(), c.flushes());
        if (previous != null) {
            getContext().unwatch(previous);
        }
        // A vCPU that stops must not hold every later ack hostage until the host fences the whole VM.
        getContext().watchWith(c.flushes(), new VcpuGone(c.vcpu(), c.flushes()));
        return this;
    }

    private Behavior<KvmCommand> onVcpuGone(VcpuGone g) {
        if (!g.flushes().equals(vcpus.get(g.vcpu()))) {
            return this; // replaced by a newer connection of the same vCPU
        }
        vcpus.remove(g.vcpu());
        getContext().getLog().debug("kvm {}: vCPU {} stopped; no longer part of remote flushes", config.name(),
                g.vcpu());
        if (flushInFlight && flushAwaiting.remove(g.vcpu()) && flushAwaiting.isEmpty()) {
            finishRound();
        }
        return this;
    }

    private Behavior<KvmCommand> onFlushed(KvmCommand.TlbFlushed t) {
        if (!flushInFlight || t.flush() != flushId) {
            return this;
        }
        flushAwaiting.remove(t.vcpu());
        if (flushAwaiting.isEmpty()) {
            finishRound();
        }
        return this;
    }

    private void finishRound() {
        flushes++;
        flushInFlight = false;
        zapsFlushed = roundCovers;
        List<Runnable> done = flushWaiters;
        flushWaiters = new ArrayList<>();
        for (Runnable r : done) {
            r.run();
        }
        if (!flushQueued.isEmpty() && !flushInFlight) {
            List<Runnable> next = flushQueued;
            flushQueued = new ArrayList<>();
            startFlushRound(next);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** Shadow rmap ({@code pte_list_add}): one record per shadow entry, however often it is re-installed. */
    private void addRmap(long gfn, long cr3, long gva) {
        List<long[]> entries = rmap.computeIfAbsent(gfn, k -> new ArrayList<>(1));
        for (long[] m : entries) {
            if (m[0] == cr3 && m[1] == gva) {
                return;
            }
        }
        entries.add(new long[] {cr3, gva});
    }

    private Memslot slotOf(long gfn) {
        for (Memslot s : config.memslots()) {
            if (s.containsGfn(gfn)) {
                return s;
            }
        }
        return null;
    }

    private Memslot slotById(int id) {
        for (Memslot s : config.memslots()) {
            if (s.id() == id) {
                return s;
            }
        }
        return null;
    }

    /** Merges adjacent page ranges. */
    private static List<Range> coalesce(List<Range> pages) {
        if (pages.size() < 2) {
            return pages;
        }
        pages.sort((a, b) -> Long.compare(a.start(), b.start()));
        List<Range> out = new ArrayList<>();
        Range cur = pages.get(0);
        for (int i = 1; i < pages.size(); i++) {
            Range r = pages.get(i);
            if (r.start() <= cur.end()) {
                cur = new Range(cur.start(), Math.max(cur.end(), r.end()));
            } else {
                out.add(cur);
                cur = r;
            }
        }
        out.add(cur);
        return out;
    }
}
