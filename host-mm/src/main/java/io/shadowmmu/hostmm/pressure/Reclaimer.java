package io.shadowmmu.hostmm.pressure;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.config.PressureSettings;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The host's page reclaim ({@code kswapd}): when free frames fall below the low watermark it walks frames with a
 * clock hand until the high watermark is reached. A frame gets a second chance when its referenced flag is set
 * (inactive to active); otherwise every mm mapping it is asked whether the page is young, which asks the host PTE
 * and every secondary ({@code clear_flush_young}), so a page hot only in a guest stays. Cold exclusive anonymous
 * pages go to swap, cold page-cache pages back to their file; each eviction is an invalidation like any other.
 *
 * <p>An anonymous page several mappings share (copy-on-write after fork, KSM) is written to a swap slot first, from
 * the frame the reclaimer holds, then each mapping swaps out to that slot if it still maps the frame read-only with
 * those contents ({@code try_to_unmap} over the rmap); the frame goes once the last mapping did.
 */
public final class Reclaimer extends AbstractBehavior<Reclaimer.Command> {

    public interface Command {
    }

    private enum Tick implements Command {
        INSTANCE
    }

    /** One frame under consideration. */
    private static final class Candidate {
        final int pfn;
        final int generation;
        final boolean anon;
        final long[] mappings; // (mm, va) pairs
        /** True for an anonymous page shared by several mappings, or a KSM page: swapped out through one slot. */
        boolean shared;
        long slot = -1;
        int unmapped;
        MemFile file;
        long index;
        int awaiting;
        boolean young;
        boolean hostYoung;

        Candidate(int pfn, int generation, boolean anon, long[] mappings) {
            this.pfn = pfn;
            this.generation = generation;
            this.anon = anon;
            this.mappings = mappings;
        }
    }

    private record Aged(Candidate candidate, MmCommand.AgeResult result) implements Command {
    }

    private record Unmapped(Candidate candidate, MmCommand.PressureDone result) implements Command {
    }

    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);

    private final HostContext host;
    private final PhysicalMemory memory;
    private final PressureSettings settings;
    private final PressureCounters counters;
    private final long lowFrames;
    private final long highFrames;
    private int hand;
    private int inFlight;
    private final Pausing pausing = new Pausing("reclaim");
    private boolean reclaiming;

    public static Behavior<Command> create(HostContext host, PressureCounters counters) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, host.settings().pressure().scanInterval());
            return new Reclaimer(ctx, host, counters);
        }));
    }

    private Reclaimer(ActorContext<Command> context, HostContext host, PressureCounters counters) {
        super(context);
        this.host = host;
        this.memory = host.memory();
        this.settings = host.settings().pressure();
        this.counters = counters;
        this.lowFrames = (long) (memory.totalFrames() * settings.lowWatermark());
        this.highFrames = Math.max(lowFrames, (long) (memory.totalFrames() * settings.highWatermark()));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessage(Aged.class, this::onAged)
                .onMessage(Unmapped.class, this::onUnmapped)
                .onMessage(AuditPause.class, m -> {
                    pausing.on(m, inFlight == 0);
                    return this;
                })
                .build();
    }

    private Behavior<Command> onTick() {
        if (pausing.paused()) {
            return this;
        }
        long free = memory.freeFrames();
        if (!reclaiming && free < lowFrames) {
            reclaiming = true;
            counters.reclaimRuns.incrementAndGet();
        }
        if (reclaiming && free >= highFrames) {
            reclaiming = false;
        }
        if (!reclaiming) {
            return this;
        }
        int frames = memory.totalFrames();
        for (int i = 0; i < settings.scanBatch() && inFlight < settings.maxInFlight(); i++) {
            int pfn = hand;
            hand = (hand + 1) % frames;
            consider(pfn);
        }
        return this;
    }

    private void consider(int pfn) {
        if (memory.refcount(pfn) == 0) {
            return;
        }
        counters.scanned.incrementAndGet();
        int generation = memory.generation(pfn);
        boolean anon = memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON);
        long[] mappings = host.rmap().mappings(pfn);
        boolean shared = anon && (mappings.length > 2 || memory.hasFlag(pfn, PhysicalMemory.FLAG_KSM));
        if (anon && (mappings.length == 0 || memory.refcount(pfn) != mappings.length / 2)) {
            return; // a page held by a pending batch, a migration or a swap-in in progress stays
        }
        if (memory.hasFlag(pfn, PhysicalMemory.FLAG_REFERENCED)) {
            memory.clearFlag(pfn, PhysicalMemory.FLAG_REFERENCED); // second chance
            return;
        }
        Candidate c = new Candidate(pfn, generation, anon, mappings);
        c.shared = shared;
        if (!anon) {
            c.file = host.file(memory.owner(pfn));
            c.index = memory.index(pfn);
            if (c.file == null || c.file.peek(c.index) != pfn) {
                return;
            }
        }
        inFlight++;
        counters.aged.incrementAndGet();
        c.awaiting = mappings.length / 2;
        if (c.awaiting == 0) {
            evict(c);
            return;
        }
        for (int i = 0; i < mappings.length; i += 2) {
            ActorRef<MmCommand> mm = host.processes().get(mappings[i]);
            if (mm == null) {
                c.awaiting--;
                continue;
            }
            long va = mappings[i + 1];
            getContext().ask(MmCommand.AgeResult.class, mm, ASK_TIMEOUT,
                    replyTo -> new MmCommand.Age(new Range(va, va + PhysicalMemory.PAGE_SIZE), true, replyTo),
                    (result, failure) -> new Aged(c, result));
        }
        if (c.awaiting == 0) {
            evict(c);
        }
    }

    /** One candidate is done with, evicted or not. */
    private void finished() {
        inFlight--;
        pausing.settled(inFlight == 0);
    }

    private Behavior<Command> onAged(Aged a) {
        Candidate c = a.candidate();
        if (a.result() != null && a.result().young()) {
            c.young = true;
            c.hostYoung |= a.result().hostYoung();
        }
        if (--c.awaiting > 0) {
            return this;
        }
        if (c.young) {
            if (!c.hostYoung) {
                counters.youngFromSecondaries.incrementAndGet();
            }
            counters.activated.incrementAndGet();
            if (memory.generation(c.pfn) == c.generation) {
                memory.setFlag(c.pfn, PhysicalMemory.FLAG_REFERENCED);
            }
            finished();
            return this;
        }
        evict(c);
        return this;
    }

    private void evict(Candidate c) {
        if (c.shared) {
            evictShared(c);
            return;
        }
        if (c.anon) {
            ActorRef<MmCommand> mm = c.mappings.length == 2 ? host.processes().get(c.mappings[0]) : null;
            if (mm == null) {
                finished();
                return;
            }
            long va = c.mappings[1];
            c.awaiting = 1;
            getContext().ask(MmCommand.PressureDone.class, mm, ASK_TIMEOUT,
                    replyTo -> new MmCommand.SwapOutPage(va, c.pfn, c.generation, replyTo),
                    (result, failure) -> new Unmapped(c, result));
            return;
        }
        // Page cache: hold the frame, unmap it from every mapper, then take it out of the cache if unused.
        if (!host.isolated().hold(c.pfn, c.generation)) {
            finished();
            return;
        }
        List<ActorRef<MmCommand>> mappers = new ArrayList<>();
        for (Object handle : c.file.mappers().values()) {
            if (handle instanceof ActorRef) {
                @SuppressWarnings("unchecked")
                ActorRef<MmCommand> ref = (ActorRef<MmCommand>) handle;
                mappers.add(ref);
            }
        }
        c.awaiting = mappers.size();
        if (c.awaiting == 0) {
            finishFile(c);
            return;
        }
        for (ActorRef<MmCommand> mm : mappers) {
            getContext().ask(MmCommand.PressureDone.class, mm, ASK_TIMEOUT,
                    replyTo -> new MmCommand.UnmapFilePages(c.file, c.index, c.index + 1, replyTo),
                    (result, failure) -> new Unmapped(c, result));
        }
    }

    /**
     * Holding the frame, nobody can write it in place any more (a write to a page with another reference copies), so
     * its contents go to a slot now and every mapping is asked to swap out to it.
     */
    private void evictShared(Candidate c) {
        if (!host.isolated().hold(c.pfn, c.generation)) {
            finished();
            return;
        }
        c.slot = host.swap().reserve();
        host.swap().write(c.slot, memory.snapshot(c.pfn));
        c.awaiting = 0;
        for (int i = 0; i < c.mappings.length; i += 2) {
            ActorRef<MmCommand> mm = host.processes().get(c.mappings[i]);
            if (mm == null) {
                continue;
            }
            long va = c.mappings[i + 1];
            c.awaiting++;
            getContext().ask(MmCommand.PressureDone.class, mm, ASK_TIMEOUT,
                    replyTo -> new MmCommand.SwapOutShared(va, c.pfn, c.generation, c.slot, replyTo),
                    (result, failure) -> new Unmapped(c, result));
        }
        if (c.awaiting == 0) {
            finishShared(c);
        }
    }

    private void finishShared(Candidate c) {
        if (c.unmapped > 0) {
            counters.swappedOut.incrementAndGet();
            counters.sharedSwappedOut.incrementAndGet();
        }
        if (c.unmapped == c.mappings.length / 2) {
            counters.evicted.incrementAndGet();
        }
        host.swap().free(c.slot); // our reservation; each swap PTE holds its own reference
        host.isolated().release(c.pfn);
        finished();
    }

    private Behavior<Command> onUnmapped(Unmapped u) {
        Candidate c = u.candidate();
        if (u.result() != null && u.result().done()) {
            c.unmapped++;
        }
        if (--c.awaiting > 0) {
            return this;
        }
        if (c.shared) {
            finishShared(c);
            return this;
        }
        if (c.anon) {
            if (u.result() != null && u.result().done()) {
                counters.evicted.incrementAndGet();
                counters.swappedOut.incrementAndGet();
            }
            finished();
            return this;
        }
        finishFile(c);
        return this;
    }

    private void finishFile(Candidate c) {
        // Expected holders: the page cache and our own reference; anybody else means it is in use again.
        if (c.file.evictIfUnused(c.index, c.pfn, 2)) {
            memory.put(c.pfn);
            counters.evicted.incrementAndGet();
            counters.fileEvicted.incrementAndGet();
        }
        host.isolated().release(c.pfn);
        finished();
    }
}
