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
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * KVM's MMU for one VM ({@code struct kvm} + {@code arch/x86/kvm/mmu}): memslots, the TDP or shadow tables its
 * vCPUs walk (a {@link PagingMmu}), and a notifier subscriber of the VM's host process (an {@link IntervalNotifier}).
 * A fault samples the invalidate sequence before asking the host for the page and re-checks it and the in-progress
 * ranges before installing ({@code mmu_invalidate_retry_gfn}); an invalidation zaps the sptes of the gfns behind the
 * hva ranges and acknowledges the host only after every vCPU acknowledged a remote TLB flush ({@link RemoteFlush})
 * issued after the zap.
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

    /** The host answered a fault's GetUserPage; {@code sampled}/{@code ptSampled} were read before asking. */
    private record Paged(Fault fault, long sampled, long ptSampled, PageReply reply) implements KvmCommand.Internal {
    }

    /** The host answered the page-in of a guest page-table page a shadow walk needs. */
    private record PtPageIn(Fault fault, PageReply reply) implements KvmCommand.Internal {
    }

    private static final Duration HOST_TIMEOUT = Duration.ofSeconds(60);
    /** A fault the host keeps refusing with EAGAIN becomes a guest fault after this many attempts. */
    private static final long MAX_HOST_RETRIES = 1000;

    private final Config config;
    private final KvmView view;
    private final long agent;
    private final Memslots slots;
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registrations;
    /** Subscription, grant, host page table, mmu_invalidate_seq, ranges in progress and parked faults. */
    private final IntervalNotifier<Fault> notifier;
    private final IntervalNotifier.Handler onHost = new HostNotifications();
    private final FaultExits exits = new Exits();
    private final RemoteFlush flush;
    private final Zaps zaps;
    private final PagingMmu mmu;
    private final GuestWrites guestWrites;

    private long faults;
    private long retries;
    private long installs;
    private long invalidations;
    private long invalidationsHitLive;
    private long guestPageFaults;
    private long guestFaults;
    private long fences;
    /** Faults answered from the host's published page table, without a host round trip. */
    private long fastInstalls;
    /**
     * The lockless host-PTE path is on, except in the race-catalogue variants: no_fault_retry breaks the re-check after
     * the host round trip, which the fast path (no round trip) would take most faults out of; the others keep the
     * fault timing their bounded catalogue runs were written for (D81).
     */
    private final boolean fastPath;

    public static Behavior<KvmCommand> create(Config config) {
        return Behaviors.setup(ctx -> new KvmMmu(ctx, config));
    }

    private KvmMmu(ActorContext<KvmCommand> context, Config config) {
        super(context);
        this.config = config;
        this.fastPath = config.variant() == Variant.NONE;
        this.view = config.view();
        view.inOrderExits = !fastPath; // the race catalogue's timing (D80)
        PhysicalMemory memory = config.memory();
        this.agent = view.agent() >= 0 ? view.agent() : AgentIds.next();
        this.slots = new Memslots(config.memslots());
        this.notifier = new IntervalNotifier<>(config.sequenceStart(), this::handle);
        this.flush = new RemoteFlush(context, config.name());
        this.zaps = new Zaps(config.events(), agent, memory, flush);
        this.mmu = view.tdp() ? new TdpMmu(view, zaps)
                : new ShadowMmu(view, new GuestWalk(slots, memory), zaps, flush);
        this.guestWrites = new GuestWrites(context, config.mm(), HOST_TIMEOUT, slots, memory, notifier::pageTable, mmu,
                flush);
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
        this.registrations = context.messageAdapter(MmCommand.Registered.class, Registered::new);
        config.events().agentNamed(agent, "kvm " + config.name());
        config.events().mirrors(agent, config.mmId()); // I2: sptes and the vCPUs' TLB entries map this mm's frames
        register();
    }

    @Override
    public Receive<KvmCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(KvmCommand.ConnectVcpu.class, this::onConnect)
                .onMessage(KvmCommand.TlbFlushed.class, this::onFlushed)
                .onMessage(RemoteFlush.VcpuGone.class, this::onVcpuGone)
                .onMessage(KvmCommand.TdpFault.class, this::onTdpFault)
                .onMessage(KvmCommand.ShadowFault.class, this::onShadowFault)
                .onMessage(Paged.class, this::onPaged)
                .onMessage(PtPageIn.class, this::onPtPageIn)
                .onMessage(KvmCommand.WriteGuest.class, this::onWriteGuest)
                .onMessage(GuestWrites.HostWrote.class, this::onHostWrote)
                .onMessage(Notified.class, this::onNotified)
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(KvmCommand.EnableDirtyLog.class, this::onEnableDirtyLog)
                .onMessage(KvmCommand.GetDirtyLog.class, this::onGetDirtyLog)
                .onMessage(KvmCommand.GetStats.class, this::onGetStats)
                .build();
    }

    // ---- registration -----------------------------------------------------------------------------------------

    private void register() {
        config.mm().tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, "kvm " + config.name(), null,
                registrations));
    }

    private Behavior<KvmCommand> onRegistered(Registered r) {
        view.grant = r.registration().grant();
        notifier.registered(r.registration()); // in-flight invalidations count as started; parked faults retry
        return this;
    }

    // ---- faults -------------------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onTdpFault(KvmCommand.TdpFault f) {
        faults++;
        handle(new Fault(f.vcpu(), 0, f.gpa(), f.write(), f.replyTo()));
        return this;
    }

    private Behavior<KvmCommand> onShadowFault(KvmCommand.ShadowFault f) {
        faults++;
        handle(new Fault(f.vcpu(), f.cr3(), f.gva(), f.write(), f.replyTo()));
        return this;
    }

    /** One attempt at a fault: resolve the gfn, then ask the host for the page, with the sequence sampled. */
    private void handle(Fault f) {
        if (!notifier.registered()) {
            notifier.park(f); // not registered (yet, or again after a fence): nothing may be installed
            return;
        }
        if (!mmu.resolve(f, notifier.pageTable(), exits)) {
            return;
        }
        f.slot = slots.ofGfn(f.gfn);
        if (f.slot == null) {
            exits.guestFault(f, "gpa 0x" + Long.toHexString(f.gfn << 12) + " is outside guest memory");
            return;
        }
        if (f.write && f.slot.readOnly()) {
            exits.guestFault(f, "write to read-only " + f.slot);
            return;
        }
        f.hva = f.slot.hvaOf(f.gfn);
        if (notifier.invalidating(f.hva)) {
            notifier.park(f); // an invalidation of it is running: retry when it ends
            return;
        }
        long sampled = notifier.readBegin(); // mmu_invalidate_seq, read before asking the host
        if (fastPath) {
            // hva_to_pfn_fast: a present host PTE is read without the host; sampled and checked in this handler.
            HostPteFastPath.Page page = HostPteFastPath.lookup(notifier.pageTable(), config.memory(), f.hva, f.write);
            if (page != null && !notifier.readRetry(sampled, f.hva)) {
                fastInstalls++;
                install(f, page.pfn(), page.generation(), page.writable());
                return;
            }
        }
        long ptSampled = guestWrites.ptSequence();
        getContext().ask(PageReply.class, config.mm(), HOST_TIMEOUT,
                replyTo -> new MmCommand.GetUserPage(f.hva, f.write, replyTo),
                (reply, failure) -> new Paged(f, sampled, ptSampled, reply != null ? reply
                        : new PageReply.Denied(f.hva, Errno.EAGAIN, "host did not answer")));
    }

    private Behavior<KvmCommand> onPaged(Paged p) {
        Fault f = p.fault();
        if (p.reply() instanceof PageReply.Denied d) {
            if (d.errno() == Errno.EAGAIN && f.retries < MAX_HOST_RETRIES) {
                retry(f);
            } else {
                exits.guestFault(f, "host refused gpa 0x" + Long.toHexString(f.gfn << 12) + ": " + d.detail());
            }
            return this;
        }
        // mmu_invalidate_retry_gfn: the answer predates an invalidation (or a guest page-table write), so it may
        // name a frame that is already revoked. Never install it; fault again.
        boolean stale = notifier.readRetry(p.sampled(), f.hva) || p.ptSampled() != guestWrites.ptSequence();
        if ((stale && config.variant() != Variant.NO_FAULT_RETRY) || !notifier.registered()) {
            retry(f);
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        install(f, g.pfn(), g.generation(), g.writable());
        return this;
    }

    private void retry(Fault f) {
        f.retries++;
        retries++;
        handle(f);
    }

    private void install(Fault f, int pfn, int generation, boolean writable) {
        boolean dirtyLogging = f.slot.dirtyLogging();
        // A read fault maps writable when the host allows it, except under dirty logging: the first write must exit.
        boolean hostWritable = writable && !f.slot.readOnly() && (f.write || !dirtyLogging);
        mmu.install(f, pfn, generation, hostWritable);
        if (f.write && dirtyLogging) {
            f.slot.markDirty(f.gfn);
        }
        installs++;
        f.replyTo.tell(new KvmCommand.Resolved(f.retries, f.address));
    }

    private Behavior<KvmCommand> onPtPageIn(PtPageIn p) {
        if (p.reply() instanceof PageReply.Denied d) {
            exits.guestFault(p.fault(), "guest page table unreadable: " + d.detail());
        } else {
            handle(p.fault()); // walk again from the top: the tables may have changed meanwhile
        }
        return this;
    }

    /** How the MMUs end a fault early. */
    private final class Exits implements FaultExits {
        @Override
        public void guestFault(Fault f, String why) {
            guestFaults++;
            f.replyTo.tell(new KvmCommand.GuestFault(why, f.address));
        }

        @Override
        public void guestPageFault(Fault f, String why) {
            guestPageFaults++;
            f.replyTo.tell(new KvmCommand.GuestPageFault(f.address, f.write, why));
        }

        @Override
        public void pageIn(Fault f, long hva) {
            getContext().ask(PageReply.class, config.mm(), HOST_TIMEOUT,
                    replyTo -> new MmCommand.GetUserPage(hva, false, replyTo),
                    (reply, failure) -> new PtPageIn(f, reply != null ? reply
                            : new PageReply.Denied(hva, Errno.EAGAIN, "host did not answer")));
        }
    }

    // ---- host notifications -------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onNotified(Notified n) {
        notifier.dispatch(n.notification(), onHost); // a message for a fenced subscription reaches no handler
        return this;
    }

    /** KVM's part of each notification; {@link IntervalNotifier#dispatch} did the bookkeeping. */
    private final class HostNotifications implements IntervalNotifier.Handler {

        /** invalidate_range_start: zap, flush every vCPU, then ack with the dirty pages found. */
        @Override
        public void invalidateStart(MmuNotification.InvalidateStart s) {
            invalidations++;
            List<Range> dirty = new ArrayList<>();
            long before = zaps.count();
            for (Range r : s.ranges()) {
                for (Memslot slot : slots.all()) { // every alias of the host range
                    long[] gfns = slot.gfnsOfHvaRange(r.start(), r.end());
                    if (gfns != null) {
                        mmu.zapGfns(slot, gfns[0], gfns[1], dirty);
                    }
                }
            }
            boolean zappedNone = zaps.count() == before;
            NotifierReply ack = new NotifierReply.Ack(s.subscription(), s.batch(), coalesce(dirty));
            Runnable sendAck = () -> s.replyTo().tell(ack);
            if (config.variant() == Variant.ACK_BEFORE_FLUSH) {
                // Broken on purpose: the host hears "done" while vCPUs may still hold what was just zapped.
                sendAck.run();
                flush.request(() -> { });
                return;
            }
            if (zappedNone && flush.allZapsFlushed()) {
                sendAck.run(); // nothing mapped and no zap awaits its flush: no vCPU can hold a translation
                return;
            }
            if (zappedNone && flush.joinRoundCoveringAllZaps(sendAck)) {
                return; // the round in flight already covers every earlier zap (D21)
            }
            if (!zappedNone) {
                invalidationsHitLive++;
            }
            flush.request(sendAck);
        }

        @Override
        public void release(MmuNotification.Release r) {
            mmu.zapAll();
            flush.request(() -> r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch())));
        }

        @Override
        public boolean young(Range hvaRange, boolean clear) {
            boolean young = false;
            for (Memslot slot : slots.all()) {
                long[] gfns = slot.gfnsOfHvaRange(hvaRange.start(), hvaRange.end());
                if (gfns == null) {
                    continue;
                }
                for (long gfn = gfns[0]; gfn < gfns[1]; gfn++) {
                    young |= mmu.young(gfn, clear); // |=, not ||: clearing must reach every spte
                }
            }
            return young;
        }

        /** The notifier already moved the sequence and forgot the subscription: drop everything, register again. */
        @Override
        public void fenced(MmuNotification.Fenced f) {
            fences++;
            getContext().getLog().warn("kvm {}: fenced by the host ({}); dropping every spte and registering again",
                    config.name(), f.reason());
            view.grant = null;
            mmu.zapAll();
            flush.request(() -> { });
            register();
        }
    }

    // ---- guest kernel writes ------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onWriteGuest(KvmCommand.WriteGuest w) {
        guestWrites.start(w);
        return this;
    }

    private Behavior<KvmCommand> onHostWrote(GuestWrites.HostWrote h) {
        guestWrites.hostWrote(h);
        return this;
    }

    // ---- remote TLB flush membership -----------------------------------------------------------------------------

    private Behavior<KvmCommand> onConnect(KvmCommand.ConnectVcpu c) {
        flush.connect(c);
        return this;
    }

    private Behavior<KvmCommand> onVcpuGone(RemoteFlush.VcpuGone g) {
        flush.vcpuGone(g);
        return this;
    }

    private Behavior<KvmCommand> onFlushed(KvmCommand.TlbFlushed t) {
        flush.flushed(t);
        return this;
    }

    // ---- dirty logging ------------------------------------------------------------------------------------------

    private Behavior<KvmCommand> onEnableDirtyLog(KvmCommand.EnableDirtyLog e) {
        Memslot slot = slots.byId(e.slot());
        if (slot == null) {
            e.replyTo().tell(new KvmCommand.DirtyLog(e.slot(), new long[0]));
            return this;
        }
        slot.setDirtyLogging(true);
        slot.takeDirtyBitmap();
        mmu.writeProtect(slot);
        long[] empty = new long[(int) ((slot.pages() + 63) / 64)];
        flush.request(() -> e.replyTo().tell(new KvmCommand.DirtyLog(slot.id(), empty)));
        return this;
    }

    private Behavior<KvmCommand> onGetDirtyLog(KvmCommand.GetDirtyLog g) {
        Memslot slot = slots.byId(g.slot());
        if (slot == null) {
            g.replyTo().tell(new KvmCommand.DirtyLog(g.slot(), new long[0]));
            return this;
        }
        // Take the bitmap and protect in the same handler: a write fault served after this marks the next log.
        // The reply waits for the flush, so no vCPU still writes through a stale writable entry.
        long[] bitmap = slot.takeDirtyBitmap();
        mmu.writeProtect(slot);
        flush.request(() -> g.replyTo().tell(new KvmCommand.DirtyLog(slot.id(), bitmap)));
        return this;
    }

    private Behavior<KvmCommand> onGetStats(KvmCommand.GetStats g) {
        g.replyTo().tell(new KvmStats(faults, retries, installs, invalidations, invalidationsHitLive, zaps.count(),
                flush.rounds(), flush.coalesced(), guestPageFaults, guestFaults, guestWrites.trapped(), fences));
        return this;
    }

    /** Merges adjacent page ranges of an ack's dirty report. */
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
