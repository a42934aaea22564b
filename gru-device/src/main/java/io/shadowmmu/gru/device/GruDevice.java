package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.tlb.GruTlb;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A GRU-style device ({@code drivers/misc/sgi-gru}): hardware contexts bound to user mms, an ASID-tagged TLB filled
 * by an atomic drop-in that walks the host page table without messaging the mm, and range flushes on invalidation,
 * acknowledged inside the handler (an atomic subscriber).
 *
 * <p>The instruction loop is the hardware: a TLB hit reads or writes RAM directly. A miss walks the host page table
 * ({@code gru_try_dropin} in atomic mode); no usable PTE fails the instruction back to the user process, which takes
 * a host fault and re-issues it. While an invalidation overlapping the address is active, the batch waits for its
 * End ({@code ms_range_active}); it does not spin.
 */
public final class GruDevice extends AbstractBehavior<GruCommand> {

    private record Notified(MmuNotification notification) implements GruCommand.Internal {
    }

    private record Registered(MmCommand.Registered registration) implements GruCommand.Internal {
    }

    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int CACHE = 0;
    private static final int MAX_WALKS = 8;
    private static final int MAX_ASID = (1 << 24) - 1;

    private final String name;
    private final GruSettings config;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final long agent;
    private final GruTlb tlb;
    private final FlushHandles handles;
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registrations;
    private final Map<Long, MmBinding> bindings = new HashMap<>();
    private final Map<Integer, HwContext> contexts = new HashMap<>();
    private final Map<Integer, MmBinding> byAsid = new HashMap<>();
    private final GruTlb.Removal removal = this::removed;
    /** Dirty pages flushed during the notification being handled, reported in its Ack (I6). */
    private List<Range> dirtyCollector;
    private int nextContext = 1;
    private int nextAsid = 1;
    private int loaded;
    private long clock;

    private long hits;
    private long misses;
    private long dropins;
    private long dropinFailures;
    private long flushes;
    private long asidFlushes;
    private long entriesFlushed;
    private long rangeWaits;
    private long walkRetries;
    private long steals;
    private long violations;
    private long fences;

    public static Behavior<GruCommand> create(String name, GruSettings settings, PhysicalMemory memory,
                                              CoherenceEvents events) {
        return Behaviors.setup(ctx -> new GruDevice(ctx, name, settings, memory, events));
    }

    private GruDevice(ActorContext<GruCommand> context, String name, GruSettings config, PhysicalMemory memory,
                      CoherenceEvents events) {
        super(context);
        this.name = name;
        this.config = config;
        this.memory = memory;
        this.events = events;
        this.agent = AgentIds.next();
        events.agentNamed(agent, name);
        this.tlb = new GruTlb(config.tlbEntries(), config.tlbWays());
        this.handles = new FlushHandles(config.flushHandles());
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
        this.registrations = context.messageAdapter(MmCommand.Registered.class, Registered::new);
    }

    @Override
    public Receive<GruCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(GruCommand.Execute.class, this::onExecute)
                .onMessage(Notified.class, this::onNotified)
                .onMessage(GruCommand.OpenContext.class, this::onOpen)
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(GruCommand.CloseContext.class, this::onClose)
                .onMessage(GruCommand.GetStats.class, this::onGetStats)
                .onMessage(GruCommand.Inspect.class, this::onInspect)
                .build();
    }

    // ---- contexts -----------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onOpen(GruCommand.OpenContext o) {
        MmBinding b = bindings.get(o.mmId());
        if (b == null) {
            b = new MmBinding(o.mmId(), o.mm());
            bindings.put(o.mmId(), b);
            register(b);
        }
        if (!b.registered()) {
            b.pendingOpens.add(o);
            return this;
        }
        open(b, o);
        return this;
    }

    private void open(MmBinding b, GruCommand.OpenContext o) {
        HwContext c = new HwContext(nextContext++, b);
        contexts.put(c.id, c);
        b.openContexts++;
        load(c);
        o.replyTo().tell(new GruCommand.ContextOpened(c.id, b.mmId, true, "context " + c.id + " on " + name
                + " for " + o.owner() + ", asid " + b.asid));
    }

    private void register(MmBinding b) {
        b.mm.tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, name, null, registrations));
    }

    private Behavior<GruCommand> onRegistered(Registered r) {
        MmCommand.Registered reg = r.registration();
        MmBinding b = bindings.get(reg.mm());
        if (b == null) {
            return this; // released meanwhile; the host drops the subscription with the mm
        }
        b.subscription = reg.subscription();
        b.grant = reg.grant();
        b.walker = reg.pageTable();
        for (MmCommand.InFlight f : reg.inFlight()) {
            // Already started before we arrived: its End will come like any other.
            b.active.add(new MmBinding.Active(f.batch(), f.ranges()));
        }
        for (GruCommand.OpenContext o : b.pendingOpens) {
            open(b, o);
        }
        b.pendingOpens.clear();
        resume(b);
        return this;
    }

    /** Gives {@code c} a hardware context, stealing the least recently used one if all are loaded. */
    private void load(HwContext c) {
        c.lastUse = ++clock;
        if (c.loaded) {
            return;
        }
        if (loaded == config.contexts()) {
            HwContext victim = null;
            for (HwContext x : contexts.values()) {
                if (x.loaded && x != c && (victim == null || x.lastUse < victim.lastUse)) {
                    victim = x;
                }
            }
            steals++;
            unload(victim);
        }
        c.loaded = true;
        loaded++;
        MmBinding b = c.binding;
        if (b.loadedContexts++ == 0) {
            b.asid = allocateAsid();
            byAsid.put(b.asid, b);
        }
    }

    /** Takes the context off the hardware; the mm's last loaded context takes its ASID's TLB entries with it. */
    private void unload(HwContext c) {
        c.loaded = false;
        loaded--;
        MmBinding b = c.binding;
        if (--b.loadedContexts == 0) {
            handles.acquire();
            flushes++;
            asidFlushes++;
            entriesFlushed += tlb.flushAsid(b.asid, removal);
            handles.drain();
            byAsid.remove(b.asid);
            b.asid = 0;
        }
    }

    private int allocateAsid() {
        while (true) {
            int a = nextAsid;
            nextAsid = nextAsid == MAX_ASID ? 1 : nextAsid + 1;
            if (!byAsid.containsKey(a)) {
                return a;
            }
        }
    }

    private Behavior<GruCommand> onClose(GruCommand.CloseContext c) {
        HwContext ctx = contexts.remove(c.context());
        if (ctx != null && !ctx.closed) {
            close(ctx);
        }
        return this;
    }

    private void close(HwContext ctx) {
        ctx.closed = true;
        if (ctx.loaded) {
            unload(ctx);
        }
        ctx.binding.openContexts--;
    }

    // ---- instructions -------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onExecute(GruCommand.Execute e) {
        HwContext c = contexts.get(e.context());
        if (c == null || c.closed) {
            e.replyTo().tell(new GruCommand.BatchResult(e.context(), e.from(),
                    GruCommand.BatchResult.Status.CLOSED, 0, false, 0, 0));
            return this;
        }
        MmBinding b = c.binding;
        if (!b.registered()) {
            b.parked.add(e); // fenced and registering again: nothing may be dropped in
            return this;
        }
        if (!b.parked.isEmpty()) {
            b.parked.add(e); // keep the process's batches in order behind the waiting ones
            return this;
        }
        run(c, e);
        return this;
    }

    /** Executes from {@code e.from()}; parks the execution (re-issued later) when it must wait for an End. */
    private void run(HwContext c, GruCommand.Execute e) {
        load(c);
        MmBinding b = c.binding;
        if (!b.grant.enter()) {
            // Revoked by the host: use nothing; the Fenced message follows and resumes us after re-registering.
            b.parked.addFirst(e);
            return;
        }
        DeviceBatch batch = e.batch();
        int asid = b.asid;
        long checksum = 0;
        long last = 0;
        int i = e.from();
        try {
            for (; i < batch.size(); i++) {
                Op op = batch.op(i);
                long va = batch.va(i);
                long vpn = va >>> PhysicalMemory.PAGE_SHIFT;
                int slot = tlb.lookup(asid, vpn);
                if (slot >= 0 && op.writes() && !tlb.writable(slot)) {
                    slot = -1; // a write through a read-only entry is a miss for write (the walk upgrades it)
                }
                if (slot >= 0 && memory.checkMode() && memory.generation(tlb.pfn(slot)) != tlb.generation(slot)) {
                    violations++;
                    events.violation(Invariant.I3, agent, name + ": TLB entry for va 0x" + Long.toHexString(va)
                            + " asid " + asid + " uses pfn " + tlb.pfn(slot) + " generation " + tlb.generation(slot)
                            + " but the frame is now generation " + memory.generation(tlb.pfn(slot)));
                    tlb.invalidate(slot, removal);
                    slot = -1;
                }
                if (slot >= 0) {
                    hits++;
                } else {
                    misses++;
                    if (b.activeOver(va)) {
                        rangeWaits++;
                        b.parked.addFirst(new GruCommand.Execute(e.context(), batch, i, e.replyTo()));
                        return;
                    }
                    slot = dropIn(b, va, op.writes());
                    if (slot < 0) {
                        dropinFailures++;
                        e.replyTo().tell(new GruCommand.BatchResult(e.context(), i,
                                GruCommand.BatchResult.Status.NEEDS_HOST_FAULT, va, op.writes(), checksum, last));
                        return;
                    }
                }
                last = perform(slot, op, va, batch.value(i));
                checksum = checksum * 31 + last;
            }
        } finally {
            b.grant.exit();
        }
        e.replyTo().tell(new GruCommand.BatchResult(e.context(), i, GruCommand.BatchResult.Status.DONE, 0, false,
                checksum, last));
    }

    private long perform(int slot, Op op, long va, long value) {
        int word = (int) ((va & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3);
        long[] words = tlb.words(slot);
        switch (op) {
            case LOAD:
                return words != null ? (long) WORDS.getVolatile(words, word) : memory.read(tlb.pfn(slot), word);
            case STORE:
                tlb.markDirty(slot);
                if (words != null) {
                    WORDS.setVolatile(words, word, value);
                } else {
                    memory.write(tlb.pfn(slot), word, value);
                }
                return value;
            case AMO_ADD:
                tlb.markDirty(slot);
                if (words != null) {
                    return (long) WORDS.getAndAdd(words, word, value);
                }
                long old = memory.read(tlb.pfn(slot), word);
                memory.write(tlb.pfn(slot), word, old + value);
                return old;
            default:
                throw new IllegalStateException("unknown op " + op);
        }
    }

    /**
     * The atomic drop-in: walk the host page table (volatile reads, no message), and install when the PTE is present
     * with the needed permission. The frame's generation is read between two reads of the PTE (a seqlock read): if
     * the PTE changed, the frame may have been freed and reused in between, so the walk starts again. The
     * invalidation sequence sampled first stands in for the hardware discarding a drop-in that raced a flush.
     * Returns the slot, or -1 when the process must take a host fault.
     */
    private int dropIn(MmBinding b, long va, boolean write) {
        long page = va & ~(PhysicalMemory.PAGE_SIZE - 1);
        for (int attempt = 0; attempt < MAX_WALKS; attempt++) {
            long seq = b.sequence;
            long pte = b.walker.get(page);
            if (!Pte.isPresent(pte) || (write && !Pte.isWritable(pte))) {
                return -1;
            }
            int pfn = Pte.pfn(pte);
            int generation = memory.generation(pfn);
            long bits = Pte.ACCESSED | (write ? Pte.DIRTY : 0);
            if (b.walker.get(page) != pte
                    || ((pte & bits) != bits && !b.walker.setHardwareBits(page, pte, bits))) {
                walkRetries++;
                continue;
            }
            if (seq != b.sequence || b.activeOver(page)) {
                walkRetries++;
                continue;
            }
            boolean writable = Pte.isWritable(pte) && (write || Pte.isDirty(pte));
            dropins++;
            if (events.enabled()) {
                events.translationInstalled(agent, CACHE, b.mmId, page, pfn, generation, writable);
            }
            return tlb.install(b.asid, page >>> PhysicalMemory.PAGE_SHIFT, pfn, generation, writable,
                    memory.words(pfn), removal);
        }
        return -1; // the PTE keeps changing: let the host fault path settle it
    }

    private void removed(int asid, long vpn, int pfn, int generation, boolean dirty) {
        MmBinding b = byAsid.get(asid);
        long va = vpn << PhysicalMemory.PAGE_SHIFT;
        if (events.enabled() && b != null) {
            events.translationRemoved(agent, CACHE, b.mmId, va, pfn, generation);
        }
        if (dirty && dirtyCollector != null) {
            int n = dirtyCollector.size();
            Range prev = n == 0 ? null : dirtyCollector.get(n - 1);
            if (prev != null && prev.end() == va) {
                dirtyCollector.set(n - 1, new Range(prev.start(), va + PhysicalMemory.PAGE_SIZE));
            } else {
                dirtyCollector.add(Range.ofPages(va, 1));
            }
        }
    }

    /** Re-issues parked executions in order until one has to wait again. */
    private void resume(MmBinding b) {
        ArrayDeque<GruCommand.Execute> waiting = new ArrayDeque<>(b.parked);
        b.parked.clear();
        while (!waiting.isEmpty()) {
            GruCommand.Execute e = waiting.poll();
            HwContext c = contexts.get(e.context());
            if (c == null || c.closed) {
                e.replyTo().tell(new GruCommand.BatchResult(e.context(), e.from(),
                        GruCommand.BatchResult.Status.CLOSED, 0, false, 0, 0));
                continue;
            }
            if (!b.registered() || !b.parked.isEmpty()) {
                b.parked.add(e);
                continue;
            }
            run(c, e);
        }
    }

    // ---- notifications ------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onNotified(Notified n) {
        MmuNotification m = n.notification();
        if (m instanceof MmuNotification.InvalidateStart) {
            onStart((MmuNotification.InvalidateStart) m);
        } else if (m instanceof MmuNotification.InvalidateEnd) {
            onEnd((MmuNotification.InvalidateEnd) m);
        } else if (m instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung y = (MmuNotification.ClearYoung) m;
            // The GRU keeps no accessed bits of its own: the walker already set the PTE's at drop-in.
            y.replyTo().tell(new NotifierReply.YoungReport(y.subscription(), y.request(), false));
        } else if (m instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung y = (MmuNotification.TestYoung) m;
            y.replyTo().tell(new NotifierReply.YoungReport(y.subscription(), y.request(), false));
        } else if (m instanceof MmuNotification.Release) {
            onRelease((MmuNotification.Release) m);
        } else if (m instanceof MmuNotification.Fenced) {
            onFenced((MmuNotification.Fenced) m);
        }
        return this;
    }

    /** {@code gru_invalidate_range_start}: mark the ranges active, flush them for the mm's ASID, ack. */
    private void onStart(MmuNotification.InvalidateStart s) {
        MmBinding b = bindings.get(s.mm());
        boolean current = b != null && b.subscription == s.subscription();
        if (current) {
            b.active.add(new MmBinding.Active(s.batch(), s.ranges()));
        }
        List<Range> dirty = List.of();
        if (b != null && b.asid != 0) {
            dirtyCollector = new ArrayList<>();
            flushRanges(b.asid, s.ranges());
            dirty = dirtyCollector;
            dirtyCollector = null;
        }
        // Atomic subscriber: every flush completed above, so the acknowledgement goes out inside the handler.
        s.replyTo().tell(new NotifierReply.Ack(s.subscription(), s.batch(), dirty));
    }

    /** One flush command per range, each on a flush handle; a range over the cap flushes the whole ASID. */
    private void flushRanges(int asid, List<Range> ranges) {
        for (int i = 0; i < ranges.size(); i++) {
            Range r = ranges.get(i);
            handles.acquire();
            flushes++;
            if (r.pages() > config.rangeFlushMaxPages()) {
                asidFlushes++;
                entriesFlushed += tlb.flushAsid(asid, removal);
            } else {
                entriesFlushed += tlb.flushRange(asid, r.start() >>> PhysicalMemory.PAGE_SHIFT,
                        (r.end() + PhysicalMemory.PAGE_SIZE - 1) >>> PhysicalMemory.PAGE_SHIFT, removal);
            }
        }
        handles.drain();
    }

    /** {@code gru_invalidate_range_end}: the range may be dropped in again; waiting batches go on. */
    private void onEnd(MmuNotification.InvalidateEnd e) {
        MmBinding b = bindings.get(e.mm());
        if (b == null || b.subscription != e.subscription()) {
            return;
        }
        b.endBatch(e.batch());
        b.sequence++;
        resume(b);
    }

    /** {@code gru_release}: the mm is exiting; its contexts are freed. */
    private void onRelease(MmuNotification.Release r) {
        MmBinding b = bindings.get(r.mm());
        List<Range> dirty = List.of();
        if (b != null && b.subscription == r.subscription()) {
            dirtyCollector = new ArrayList<>();
            dropBinding(b);
            dirty = dirtyCollector;
            dirtyCollector = null;
        }
        r.replyTo().tell(new NotifierReply.Ack(r.subscription(), r.batch(), dirty));
    }

    private void dropBinding(MmBinding b) {
        for (HwContext c : new ArrayList<>(contexts.values())) {
            if (c.binding == b) {
                close(c);
                contexts.remove(c.id);
            }
        }
        bindings.remove(b.mmId);
        for (GruCommand.Execute e : b.parked) {
            e.replyTo().tell(new GruCommand.BatchResult(e.context(), e.from(),
                    GruCommand.BatchResult.Status.CLOSED, 0, false, 0, 0));
        }
        b.parked.clear();
        for (GruCommand.OpenContext o : b.pendingOpens) {
            o.replyTo().tell(new GruCommand.ContextOpened(-1, b.mmId, false, "mm " + b.mmId + " exited"));
        }
        b.pendingOpens.clear();
    }

    /** The host revoked us for this mm: drop every translation, forget its invalidations, register again. */
    private void onFenced(MmuNotification.Fenced f) {
        MmBinding b = bindings.get(f.mm());
        if (b == null || b.subscription != f.subscription()) {
            return;
        }
        fences++;
        getContext().getLog().warn("{}: fenced by mm {} ({}); dropping its TLB entries and registering again",
                name, f.mm(), f.reason());
        if (b.asid != 0) {
            handles.acquire();
            flushes++;
            asidFlushes++;
            entriesFlushed += tlb.flushAsid(b.asid, removal);
            handles.drain();
        }
        b.subscription = -1;
        b.grant = null;
        b.active.clear();
        b.sequence++; // whatever a walk sampled before the fence is stale
        register(b);
    }

    // ---- inspection ---------------------------------------------------------------------------------------------

    private Behavior<GruCommand> onGetStats(GruCommand.GetStats g) {
        g.replyTo().tell(stats());
        return this;
    }

    private GruStats stats() {
        return new GruStats(name, config.contexts(), loaded, hits, misses, dropins, dropinFailures, flushes,
                asidFlushes, entriesFlushed, handles.waits(), rangeWaits, walkRetries, steals, violations, fences);
    }

    private Behavior<GruCommand> onInspect(GruCommand.Inspect i) {
        MmBinding b = bindings.get(i.mmId());
        if (b == null) {
            i.replyTo().tell(new GruCommand.Inspection(i.mmId(), false, -1, 0, 0, 0, 0, 0));
        } else {
            i.replyTo().tell(new GruCommand.Inspection(b.mmId, true, b.subscription, b.asid,
                    b.asid == 0 ? 0 : tlb.countAsid(b.asid), b.rangeActive(), b.sequence, b.parked.size()));
        }
        return this;
    }
}
