package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.config.Variant;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.tlb.DeviceTlb;
import io.shadowmmu.gru.tlb.FlushHandles;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A GRU-style device ({@code drivers/misc/sgi-gru}): hardware contexts bound to user mms, a device TLB tagged by
 * ASID, and a pool of TLB flush handles. It executes user instruction batches: a TLB hit reads or writes RAM directly;
 * a miss is resolved by an atomic drop-in that walks the host page table without a message to the mm, or fails back
 * to the user, who takes a host fault and retries. It is an atomic notifier subscriber: every InvalidateStart is
 * flushed and acknowledged inside its handler while a flush handle is free for each of its ranges; otherwise the
 * ranges wait for handles (they already count as in progress, so nothing drops in over them) and the ack goes out
 * once the last of their flushes ran. The subscription bookkeeping of each mm is one {@link IntervalNotifier}.
 */
public final class GruDevice extends AbstractBehavior<GruCommand> {
    private static final java.lang.invoke.VarHandle WORDS =
            java.lang.invoke.MethodHandles.arrayElementVarHandle(long[].class);

    /** A batch waiting for registration or for an invalidation to end. */
    record Pending(GruContext context, Instructions instructions, int from, ActorRef<GruCommand.BatchResult> replyTo) {
    }

    private record Notified(MmuNotification notification) implements GruCommand.Internal {
    }

    private record Registered(MmCommand.Registered registration) implements GruCommand.Internal {
    }

    /** The flush command on a handle completed (the hardware's TFH status went idle). */
    private record FlushCompleted(int handle) implements GruCommand.Internal {
    }

    /** One range flush of one invalidation start, issued on a flush handle. */
    private record FlushJob(BoundMm bound, Range range, StartFlushes owner) {
    }

    /** Answers every notification for an mm with no binding as done (a notifier that never registers). */
    private static final IntervalNotifier.Handler UNBOUND = new IntervalNotifier.Handler() {
        @Override
        public void invalidateStart(MmuNotification.InvalidateStart start) {
        }

        @Override
        public void release(MmuNotification.Release release) {
        }

        @Override
        public boolean young(Range range, boolean clear) {
            return false;
        }

        @Override
        public void fenced(MmuNotification.Fenced fenced) {
        }
    };

    private static final int WAIT = -2;
    private static final int FAIL = -1;
    private static final int DROPIN_ATTEMPTS = 4;

    private final String name;
    private final GruSettings settings;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final boolean check;
    private final DeviceTlb tlb;
    private final Variant variant;
    /** Broken on purpose, for tests only: range flushes report completion but leave the entries in the TLB. */
    private final boolean loseRangeFlushes;
    private final FlushHandles<FlushJob> handles;
    private final FlushCompleted[] completions;
    private final IntervalNotifier<Pending> unbound = new IntervalNotifier<>(0, null);
    private final GruCounters counters = new GruCounters();
    private final GruContext[] hardware;
    private final Map<Integer, GruContext> contexts = new HashMap<>();
    private final Map<Long, BoundMm> byMm = new HashMap<>();
    private final Map<Integer, BoundMm> byAsid = new HashMap<>();
    /**
     * Per mm, registrations asked for by bindings closed before the reply came. The mm answers in order, so the next
     * replies for that mm are theirs: each is unregistered at once instead of being taken for a newer binding's.
     */
    private final Map<Long, ArrayDeque<ActorRef<MmCommand>>> orphaned = new HashMap<>();
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registrations;
    private final List<Long> dirtyPages = new ArrayList<>();
    private final DeviceTlb.Removal removal = this::removed;
    private int nextContext = 1;
    private int nextAsid = 1;
    private long useClock;
    /** Waits for an invalidation to end on bindings eligible for context churn, and the one to churn next. */
    private long churnWaits;
    private BoundMm churnDue;

    public static Behavior<GruCommand> create(String name, GruSettings settings, PhysicalMemory memory) {
        return create(name, settings, memory, Variant.NONE);
    }

    /** @param variant {@code REGISTER_UNQUIESCED} makes registrations ignore the invalidations handed over */
    public static Behavior<GruCommand> create(String name, GruSettings settings, PhysicalMemory memory,
                                              Variant variant) {
        return Behaviors.setup(ctx -> new GruDevice(ctx, name, settings, memory, variant, false));
    }

    /** A device that loses its range flushes: tests show the oracle catches the stale reads that follow. */
    static Behavior<GruCommand> losingRangeFlushes(String name, GruSettings settings, PhysicalMemory memory) {
        return Behaviors.setup(ctx -> new GruDevice(ctx, name, settings, memory, Variant.NONE, true));
    }

    private GruDevice(ActorContext<GruCommand> context, String name, GruSettings settings, PhysicalMemory memory,
                      Variant variant, boolean loseRangeFlushes) {
        super(context);
        this.variant = variant;
        this.loseRangeFlushes = loseRangeFlushes;
        this.name = name;
        this.settings = settings;
        this.memory = memory;
        this.events = memory.events();
        this.check = memory.checkMode();
        this.tlb = new DeviceTlb(settings.tlbEntries(), settings.tlbWays());
        this.handles = new FlushHandles<>(settings.flushHandles(), this::issue);
        this.completions = new FlushCompleted[settings.flushHandles()];
        for (int h = 0; h < completions.length; h++) {
            completions[h] = new FlushCompleted(h);
        }
        this.hardware = new GruContext[settings.contextsPerDevice()];
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
        this.registrations = context.messageAdapter(MmCommand.Registered.class, Registered::new);
    }

    @Override
    public Receive<GruCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(GruCommand.Execute.class, this::onExecute)
                .onMessage(Notified.class, n -> onNotification(n.notification()))
                .onMessage(FlushCompleted.class, f -> {
                    handles.completed(f.handle()); // the oldest waiting flush, if any, is issued on it
                    return this;
                })
                .onMessage(GruCommand.OpenContext.class, this::onOpen)
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(GruCommand.CloseContext.class, this::onClose)
                .onMessage(GruCommand.GetStats.class, g -> {
                    g.replyTo().tell(counters.snapshot(name, contexts.size(), handles.waits(), handles.mostWaiting()));
                    return this;
                })
                .build();
    }

    // ---- contexts -------------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onOpen(GruCommand.OpenContext o) {
        BoundMm b = byMm.get(o.mmId());
        if (b == null) {
            b = bind(o.mm(), o.mmId(), AgentIds.next());
            events.agentNamed(b.agent, name + "/mm" + o.mmId());
            events.mirrors(b.agent, o.mmId()); // I2: the contexts' TLB entries map this mm's frames
            register(b);
        }
        GruContext c = new GruContext(nextContext++, b);
        b.contexts++;
        contexts.put(c.id, c);
        counters.opened++;
        o.replyTo().tell(new GruCommand.ContextOpened(c.id, b.asid, ""));
        return this;
    }

    /** A new binding of {@code mm} with a fresh ASID, its notifier and its handler. */
    private BoundMm bind(ActorRef<MmCommand> mm, long mmId, long agent) {
        BoundMm b = new BoundMm(mm, mmId, agent, nextAsid++, this::retry);
        b.handler = new MmHandler(b);
        byMm.put(mmId, b);
        byAsid.put(b.asid, b);
        return b;
    }

    private void register(BoundMm b) {
        b.mm.tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, b.agent, name, null, registrations));
    }

    private Behavior<GruCommand> onRegistered(Registered r) {
        MmCommand.Registered reg = r.registration();
        ArrayDeque<ActorRef<MmCommand>> orphans = orphaned.get(reg.mm());
        if (orphans != null) {
            ActorRef<MmCommand> mm = orphans.poll();
            if (orphans.isEmpty()) {
                orphaned.remove(reg.mm());
            }
            mm.tell(new MmCommand.Unregister(reg.subscription(), getContext().getSystem().ignoreRef()));
            return this;
        }
        BoundMm b = byMm.get(reg.mm());
        if (b == null || b.registered()) {
            return this; // released or closed meanwhile; the mm will find us gone or fence us
        }
        counters.registrations++;
        if (!reg.inFlight().isEmpty()) {
            counters.registrationsInFlight++; // joined inside an invalidation: its drop-ins wait for the end
        }
        if (variant == Variant.REGISTER_UNQUIESCED) {
            b.notifier.registeredUnquiesced(reg);
        } else {
            b.notifier.registered(reg); // in-flight invalidations count as started; parked batches run again
        }
        return this;
    }

    private Behavior<GruCommand> onClose(GruCommand.CloseContext c) {
        GruContext ctx = contexts.remove(c.context());
        if (ctx == null) {
            return this;
        }
        unload(ctx, false);
        BoundMm b = ctx.bound;
        if (--b.contexts == 0) {
            forget(b);
            if (b.registered()) {
                b.mm.tell(new MmCommand.Unregister(b.notifier.subscription(), getContext().getSystem().ignoreRef()));
                b.notifier.unregistered();
            } else {
                // Its registration is still on the way (or, after a fence, again): unregister it when it comes.
                orphaned.computeIfAbsent(b.mmId, k -> new ArrayDeque<>()).add(b.mm);
            }
        }
        return this;
    }

    private void forget(BoundMm b) {
        byMm.remove(b.mmId);
        byAsid.remove(b.asid);
        for (Pending p : b.notifier.takeParked()) {
            gone(p);
        }
    }

    /** Gives {@code c} a hardware context, stealing the least recently used one when none is free. */
    private void load(GruContext c) {
        int slot = -1;
        for (int i = 0; i < hardware.length; i++) {
            if (hardware[i] == null) {
                slot = i;
                break;
            }
            if (slot < 0 || hardware[i].lastUse < hardware[slot].lastUse) {
                slot = i;
            }
        }
        if (hardware[slot] != null) {
            counters.contextSteals++; // gru_steal_context
            unload(hardware[slot], true);
        }
        hardware[slot] = c;
        c.hardware = slot;
        c.bound.loaded++;
        counters.contextLoads++;
    }

    /** Unloads a context; the last loaded context of an mm takes its ASID's translations with it. */
    private void unload(GruContext c, boolean steal) {
        if (c.hardware < 0) {
            return;
        }
        hardware[c.hardware] = null;
        c.hardware = -1;
        BoundMm b = c.bound;
        if (--b.loaded == 0) {
            // Part of the context unload, not a TFH command: no flush handle. Our writes were already recorded as
            // PTE dirty bits at drop-in: nothing more to hand back here.
            counters.flushes++;
            dropAll(b);
        }
    }

    // ---- instructions -----------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onExecute(GruCommand.Execute e) {
        GruContext c = contexts.get(e.context());
        Pending p = new Pending(c, e.instructions(), e.from(), e.replyTo());
        if (c == null) {
            gone(p);
            return this;
        }
        execute(p);
        churnIfDue();
        return this;
    }

    // ---- context churn --------------------------------------------------------------------------------------------

    /** Churns the binding a wait marked during this message, once the waiting batch is parked. */
    private void churnIfDue() {
        BoundMm b = churnDue;
        churnDue = null;
        if (b != null && byMm.get(b.mmId) == b && b.registered()) {
            churn(b);
        }
    }

    /**
     * Context churn ({@code gru.context-churn}): a batch just had to wait for an invalidation of its mm to end, and
     * the binding is torn down and re-created, as when a user gives up on a stalled context, frees it and creates a
     * new one at once ({@code gru_drop_mmu_notifier}, then {@code gru_register_mmu_notifier}). The contexts are
     * unloaded, the ASID flushed, the notifier unregistered; a new binding with a new ASID registers while that
     * invalidation is still in flight, and the contexts (whose handles the users keep) reload on their next batch.
     * Batches waiting on the old binding wait for the new registration: they run again only once the host said
     * which invalidations are in flight. The new binding is not churned again before it saw a start of its own, so
     * a wait for an invalidation it was handed at registration never re-creates it in a loop.
     */
    private void churn(BoundMm old) {
        counters.churns++;
        for (GruContext c : contexts.values()) {
            if (c.bound == old && c.hardware >= 0) {
                hardware[c.hardware] = null;
                c.hardware = -1;
            }
        }
        dropAll(old);
        byAsid.remove(old.asid);
        old.mm.tell(new MmCommand.Unregister(old.notifier.subscription(), getContext().getSystem().ignoreRef()));
        List<Pending> parked = old.notifier.takeParked();
        old.notifier.unregistered();
        BoundMm fresh = bind(old.mm, old.mmId, old.agent);
        fresh.contexts = old.contexts;
        for (Pending p : parked) {
            fresh.notifier.park(p);
        }
        for (GruContext c : contexts.values()) {
            if (c.bound == old) {
                c.bound = fresh;
            }
        }
        register(fresh);
    }

    private void gone(Pending p) {
        p.replyTo().tell(new GruCommand.BatchResult(p.context() == null ? -1 : p.context().id,
                GruCommand.BatchResult.Status.GONE, p.from(), 0, false, 0));
    }

    private void execute(Pending p) {
        GruContext c = p.context();
        BoundMm b = c.bound;
        if (!b.registered()) {
            b.notifier.park(p); // runs again once registered
            return;
        }
        if (c.hardware < 0) {
            load(c);
        }
        c.lastUse = ++useClock;
        io.shadowmmu.hostmm.notifier.AccessGrant grant = b.notifier.grant();
        if (!grant.enter()) {
            // Revoked by the host: use no translation; the Fenced message follows and we register again.
            dropAll(b);
            b.notifier.park(p);
            return;
        }
        try {
            run(p, b);
        } finally {
            grant.exit();
        }
    }

    /** The device executing a batch: hits touch only the TLB arrays and RAM. */
    private void run(Pending p, BoundMm b) {
        Instructions ins = p.instructions();
        byte[] ops = ins.ops();
        long[] vas = ins.vas();
        long[] values = ins.values();
        long[] results = ins.results();
        int asid = b.asid;
        long sum = 0;
        for (int i = p.from(); i < ins.count(); i++) {
            long va = vas[i];
            long vpn = va >>> PhysicalMemory.PAGE_SHIFT;
            boolean write = Instructions.writes(ops[i]);
            int slot = tlb.lookup(asid, vpn);
            if (slot >= 0 && write && !tlb.writable(slot)) {
                slot = -1; // a read-only entry: the store needs a writable drop-in
            }
            if (slot >= 0 && check && memory.generation(tlb.pfn(slot)) != tlb.generation(slot)) {
                counters.violations++;
                events.violation(Invariant.I3, b.agent, name + " hit 0x" + Long.toHexString(va) + " -> frame "
                        + tlb.pfn(slot) + " generation " + tlb.generation(slot) + ", which was freed and reused"
                        + " (now generation " + memory.generation(tlb.pfn(slot)) + ")");
                tlb.remove(slot, removal);
                slot = -1;
            }
            if (slot >= 0) {
                counters.hits++;
            } else {
                counters.misses++;
                slot = dropIn(b, va, write);
                if (slot == WAIT) {
                    b.notifier.park(new Pending(p.context(), ins, i, p.replyTo()));
                    return;
                }
                if (slot == FAIL) {
                    counters.dropinFailures++;
                    p.replyTo().tell(new GruCommand.BatchResult(p.context().id,
                            GruCommand.BatchResult.Status.FAULT, i, va, write, sum));
                    return;
                }
            }
            int pfn = tlb.pfn(slot);
            int word = (int) ((va & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3);
            byte op = ops[i];
            if (op == Instructions.STORE) {
                memory.write(pfn, word, values[i]);
                tlb.markDirty(slot);
                continue;
            }
            long got;
            if (op == Instructions.LOAD) {
                got = memory.read(pfn, word);
            } else {
                got = amoAdd(pfn, word, values[i]);
                tlb.markDirty(slot);
            }
            sum += got;
            if (results != null) {
                results[i] = got;
            }
        }
        p.replyTo().tell(new GruCommand.BatchResult(p.context().id, GruCommand.BatchResult.Status.DONE,
                ins.count(), 0, false, sum));
    }

    /**
     * Fetch-and-add on one word. It must be atomic: another device, or the host CPU, may add to the same word of a
     * shared frame at the same moment from its own thread, and a plain read-then-write loses one of the additions.
     * In tagged content mode a frame is a single tag with no per-word array, so the add is best effort there.
     */
    private long amoAdd(int pfn, int word, long delta) {
        long[] words = memory.words(pfn);
        if (words != null) {
            return (long) WORDS.getAndAdd(words, word, delta);
        }
        long old = memory.read(pfn, word);
        memory.write(pfn, word, old + delta);
        return old;
    }

    /**
     * The atomic drop-in ({@code gru_try_dropin}): walk the host page table as hardware does, and install only a
     * present entry with the needed permission. Returns the TLB slot, {@link #WAIT} while an invalidation of the page
     * is active, or {@link #FAIL} when the user must take a host fault.
     */
    private int dropIn(BoundMm b, long va, boolean write) {
        long page = va & ~(PhysicalMemory.PAGE_SIZE - 1);
        IntervalNotifier<Pending> notifier = b.notifier;
        if (notifier.invalidating(page)) {
            counters.dropinWaits++; // ms_range_active: wait for the end, do not spin
            if (settings.churns() && b.sawStart && ++churnWaits % settings.contextChurn() == 0) {
                churnDue = b; // after this message: the batch is parked by then
            }
            return WAIT;
        }
        long sampled = notifier.readBegin();
        io.shadowmmu.hostmm.pagetable.PageTableWalker walker = notifier.pageTable();
        for (int attempt = 0; attempt < DROPIN_ATTEMPTS; attempt++) {
            long pte = walker.get(page);
            if (!Pte.isPresent(pte) || (write && !Pte.isWritable(pte))) {
                return FAIL;
            }
            // Hardware sets accessed (and dirty for a store) like an MMU; a changed entry means walk again.
            long bits = Pte.ACCESSED | (write ? Pte.DIRTY : 0);
            if ((pte & bits) != bits) {
                if (!walker.setHardwareBits(page, pte, bits)) {
                    continue;
                }
                pte |= bits;
            }
            int pfn = Pte.pfn(pte);
            int generation = memory.generation(pfn);
            if (walker.get(page) != pte) {
                continue; // seqlock: the entry changed while we read the frame's generation
            }
            if (notifier.readRetry(sampled, page)) {
                // Stands in for the hardware discarding a drop-in that raced a flush.
                counters.dropinDiscards++;
                return WAIT;
            }
            // A clean writable entry is installed read-only: the first store comes back here and sets dirty.
            boolean writable = Pte.isWritable(pte) && Pte.isDirty(pte);
            int slot = tlb.install(b.asid, page >>> PhysicalMemory.PAGE_SHIFT, pfn, generation, writable, removal);
            counters.dropins++;
            events.translationInstalled(b.agent, 0, b.asid, page, pfn, generation, writable);
            return slot;
        }
        return FAIL;
    }

    /** A parked batch runs again (registration done, or an invalidation ended), unless its context is gone. */
    private void retry(Pending p) {
        if (contexts.get(p.context().id) == p.context()) {
            execute(p);
        } else {
            gone(p);
        }
    }

    // ---- the notifier ---------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onNotification(MmuNotification n) {
        BoundMm b = byMm.get(mmOf(n));
        if (b == null) {
            unbound.dispatch(n, UNBOUND); // closed or released: answered as done
        } else {
            b.notifier.dispatch(n, b.handler); // another subscription's messages are answered as done there
        }
        return this;
    }

    /** Which mm a notification is about (every variant names it; the interface does not). */
    private static long mmOf(MmuNotification n) {
        if (n instanceof MmuNotification.InvalidateStart) {
            return ((MmuNotification.InvalidateStart) n).mm();
        }
        if (n instanceof MmuNotification.InvalidateEnd) {
            return ((MmuNotification.InvalidateEnd) n).mm();
        }
        if (n instanceof MmuNotification.Release) {
            return ((MmuNotification.Release) n).mm();
        }
        if (n instanceof MmuNotification.Fenced) {
            return ((MmuNotification.Fenced) n).mm();
        }
        if (n instanceof MmuNotification.ClearYoung) {
            return ((MmuNotification.ClearYoung) n).mm();
        }
        return ((MmuNotification.TestYoung) n).mm();
    }

    /** The device's part of the notifier protocol for one binding; {@link IntervalNotifier} did the bookkeeping. */
    private final class MmHandler implements IntervalNotifier.Handler {
        private final BoundMm b;

        MmHandler(BoundMm b) {
            this.b = b;
        }

        @Override
        public void invalidateStart(MmuNotification.InvalidateStart s) {
            onStart(b, s);
        }

        @Override
        public void invalidateEnd(MmuNotification.InvalidateEnd e) {
            churnIfDue(); // a batch resumed by the end may have met another invalidation in flight
        }

        @Override
        public void release(MmuNotification.Release r) {
            onRelease(b, r);
        }

        @Override
        public boolean young(Range range, boolean clear) {
            return GruDevice.this.young(b, range, clear);
        }

        @Override
        public void fenced(MmuNotification.Fenced f) {
            onFenced(b, f);
        }
    }

    /**
     * gru_invalidate_range_start: the ranges already count as active ({@code ms_range_active}); flush each for the
     * ASID on a flush handle, and ack once every flush ran: inside this handler when handles are free.
     */
    private void onStart(BoundMm b, MmuNotification.InvalidateStart s) {
        b.sawStart = true;
        if (b.loaded == 0 || s.ranges().isEmpty()) {
            // lazy: no loaded context means the ASID holds no translation on this device
            s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
            return;
        }
        StartFlushes flushes = new StartFlushes(s, s.ranges().size());
        for (Range r : s.ranges()) {
            handles.submit(new FlushJob(b, r, flushes));
        }
        if (!flushes.done()) {
            counters.acksDeferred++; // the ack goes out when the waiting flushes ran
        }
    }

    /**
     * Issues one flush command on {@code handle}: the range's entries leave the TLB (above the cap, the whole
     * ASID's), and the handle stays busy until the device sees the command complete, one message later.
     */
    private void issue(int handle, FlushJob job) {
        counters.flushes++;
        dirtyPages.clear();
        BoundMm b = job.bound();
        Range r = job.range();
        if (!loseRangeFlushes) {
            if (r.pages() > settings.rangeFlushMaxPages()) {
                counters.entriesFlushed += tlb.flushAsid(b.asid, removal);
            } else {
                counters.entriesFlushed += tlb.flushRange(b.asid, r.start() >>> PhysicalMemory.PAGE_SHIFT,
                        (r.end() + PhysicalMemory.PAGE_SIZE - 1) >>> PhysicalMemory.PAGE_SHIFT, removal);
            }
        }
        boolean last = job.owner().ran(dirtyPages);
        dirtyPages.clear();
        getContext().getSelf().tell(completions[handle]);
        if (last) {
            MmuNotification.InvalidateStart s = job.owner().start;
            s.replyTo().tell(new NotifierReply.Ack(s.subscription(), s.batch(), job.owner().dirtyRanges()));
        }
    }

    /** The mm exits: its contexts are freed with their translations. */
    private void onRelease(BoundMm b, MmuNotification.Release r) {
        dropAll(b);
        for (GruContext c : new ArrayList<>(contexts.values())) {
            if (c.bound == b) {
                contexts.remove(c.id);
                if (c.hardware >= 0) {
                    hardware[c.hardware] = null;
                    c.hardware = -1;
                }
            }
        }
        b.loaded = 0;
        b.contexts = 0;
        forget(b);
        r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
    }

    /** The host gave up on us for this mm: drop everything, register again, re-fault. */
    private void onFenced(BoundMm b, MmuNotification.Fenced f) {
        dropAll(b);
        if (f.subscription() < 0) {
            // The mm exited before we registered: its contexts are gone.
            for (GruContext c : new ArrayList<>(contexts.values())) {
                if (c.bound == b) {
                    contexts.remove(c.id);
                    if (c.hardware >= 0) {
                        hardware[c.hardware] = null;
                    }
                }
            }
            forget(b);
            return;
        }
        register(b);
    }

    private void dropAll(BoundMm b) {
        dirtyPages.clear();
        counters.entriesFlushed += tlb.flushAsid(b.asid, removal);
        dirtyPages.clear();
    }

    /**
     * Aging ({@code clear_flush_young} / {@code test_young}): the device keeps no accessed bits, so a page with a
     * live TLB entry counts as young. Clearing flushes those entries: the next access drops in again and sets the
     * PTE's accessed bit. Entries are writable only over PTEs already dirty, so no dirty state is lost.
     */
    private boolean young(BoundMm b, Range range, boolean clear) {
        if (b.loaded == 0) {
            return false;
        }
        long from = range.start() >>> PhysicalMemory.PAGE_SHIFT;
        long to = (range.end() + PhysicalMemory.PAGE_SIZE - 1) >>> PhysicalMemory.PAGE_SHIFT;
        if (!clear) {
            for (long v = from; v < to; v++) {
                if (tlb.probe(b.asid, v)) {
                    return true;
                }
            }
            return false;
        }
        dirtyPages.clear();
        int n = tlb.flushRange(b.asid, from, to, removal);
        dirtyPages.clear();
        if (n > 0) {
            counters.flushes++;
            counters.entriesFlushed += n;
        }
        return n > 0;
    }

    private void removed(int asid, long vpn, int pfn, int generation, boolean dirty) {
        BoundMm b = byAsid.get(asid);
        long va = vpn << PhysicalMemory.PAGE_SHIFT;
        if (b != null) {
            events.translationRemoved(b.agent, 0, asid, va, pfn, generation);
        }
        if (dirty) {
            dirtyPages.add(va);
        }
    }
}
