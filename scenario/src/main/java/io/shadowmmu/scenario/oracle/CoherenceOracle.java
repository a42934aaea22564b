package io.shadowmmu.scenario.oracle;

import io.shadowmmu.config.OracleSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The coherence oracle: receives every agent's events and checks the invariants of the design online.
 *
 * <ul>
 *   <li>I2, for agents bound to an address space ({@link #mirrors}): a translation installed to a frame that address
 *       space does not hold (no PTE of it maps the frame, and it did not just give the frame up under an invalidation
 *       still running), or still held once the invalidation that took the frame from that address space has
 *       completed while the frame lives on as another address space's private memory.</li>
 *   <li>I3: a frame is freed while some agent still holds a live translation to that generation of it, or a
 *       translation is installed for a frame generation that is not allocated (a stale grant installed).</li>
 *   <li>I4: an invalidation that never completes ({@link #checkLiveness}).</li>
 *   <li>I5: an audit with leaked or mis-counted frames ({@link #audit}).</li>
 *   <li>I1 and anything an agent detects itself arrive through {@link #violation}.</li>
 * </ul>
 *
 * <p>Thread-safe and cheap enough to stay on: frame state is striped by pfn, an event appends to a fixed ring per
 * frame, and text is built only when a violation needs its story.
 */
public final class CoherenceOracle implements CoherenceEvents {
    private static final int STRIPES = 128;
    private static final int MAX_KEPT = 1_000;

    /** One cached translation. */
    private record Translation(long agent, int cache, long space, long va, int pfn, int generation) {
        Slot slot() {
            return new Slot(cache, space, va);
        }
    }

    /** Where an agent keeps a translation: one entry per (cache, space, address), as in a TLB or a page table. */
    private record Slot(int cache, long space, long va) {
    }

    /** An invalidation batch still open, for I4 and its story. */
    private static final class OpenInvalidation {
        final long startedNanos;
        final List<Range> ranges;
        final InvalidationEvent event;
        final List<String> replies = new ArrayList<>(2);

        OpenInvalidation(long startedNanos, List<Range> ranges, InvalidationEvent event) {
            this.startedNanos = startedNanos;
            this.ranges = ranges;
            this.event = event;
        }
    }

    private record BatchKey(long mm, long batch) {
    }

    /** A PTE of a bound agent's address space removed from a frame, until the invalidation covering it completes. */
    private record Release(int pfn, int generation, long va) {
    }

    private enum Kind {
        ALLOCATED, FREED, INSTALLED, REMOVED, REVOKED, DIRTIED, EVICTED, WRITTEN_BACK
    }

    private static final Kind[] KINDS = Kind.values();

    /** What the oracle knows about one frame; its story is a ring of primitive columns, so an event allocates nothing. */
    private static final class Frame {
        boolean allocated;
        int generation;
        long owner;
        /** The secondary that last reported this generation written through its mapping, or -1 (I6). */
        long dirtiedBy = -1;
        int dirtiedGeneration;
        final List<Translation> live = new ArrayList<>(2);
        /** Address spaces that gave this generation up and whose invalidation is still running (I2); or null. */
        List<Long> releasedBy;
        final long[] nanos;
        final long[] agents;
        final long[] vas;
        final int[] generations;
        final byte[] kinds;
        int storyNext;
        int storySize;

        Frame(int storyLength) {
            nanos = new long[storyLength];
            agents = new long[storyLength];
            vas = new long[storyLength];
            generations = new int[storyLength];
            kinds = new byte[storyLength];
        }

        void remember(Kind kind, long agent, long va, int gen) {
            int i = storyNext;
            nanos[i] = System.nanoTime();
            kinds[i] = (byte) kind.ordinal();
            agents[i] = agent;
            vas[i] = va;
            generations[i] = gen;
            storyNext = i + 1 == nanos.length ? 0 : i + 1;
            if (storySize < nanos.length) {
                storySize++;
            }
        }
    }

    /** Frames by pfn in lazily made chunks: no boxing and no hashing on the hot path. */
    private static final int CHUNK_BITS = 12;
    private static final int CHUNK = 1 << CHUNK_BITS;

    private final int storyLength;
    private final Object[] locks = new Object[STRIPES];
    private final AtomicReferenceArray<Frame[]> frames = new AtomicReferenceArray<>(1 << (31 - CHUNK_BITS));
    private final ConcurrentHashMap<Long, ConcurrentHashMap<Slot, Translation>> byAgent = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, String> names = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<BatchKey, OpenInvalidation> openInvalidations = new ConcurrentHashMap<>();
    /** I2: the address space (mm id) each bound agent translates for. */
    private final ConcurrentHashMap<Long, Long> mirrors = new ConcurrentHashMap<>();
    /** Address spaces a bound agent mirrors: only their PTE removals are remembered. */
    private final Set<Long> mirrored = ConcurrentHashMap.newKeySet();
    /** By mirrored mm: frames it gave up whose invalidation has not completed. */
    private final ConcurrentHashMap<Long, List<Release>> releases = new ConcurrentHashMap<>();
    private final AtomicLongArray counts = new AtomicLongArray(Invariant.values().length);
    private final List<Violation> kept = new ArrayList<>();
    // Every event bumps this from many threads: a striped adder keeps it off one contended cache line.
    private final LongAdder events = new LongAdder();
    private final long started = System.nanoTime();

    public CoherenceOracle(OracleSettings settings) {
        this(settings.storyLength());
    }

    public CoherenceOracle(int storyLength) {
        this.storyLength = Math.max(1, storyLength);
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new Object();
        }
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public void agentNamed(long agent, String name) {
        names.put(agent, name);
    }

    /**
     * I2: {@code agent} is a secondary MMU of address space {@code mm} (an mm id): every translation it installs from
     * now on must be of a frame that mm holds, and none may outlive the mm's hold on a frame that lives on as another
     * address space's private memory. The host's own PTEs
     * (reported under an agent that is never bound, with the mm id as space) say which frames an mm holds. Call it
     * before the agent's first install; an agent that is never bound is not checked for I2.
     */
    @Override
    public void mirrors(long agent, long mm) {
        mirrors.put(agent, mm);
        mirrored.add(mm);
    }

    // ---- frames ---------------------------------------------------------------------------------------------------

    @Override
    public void frameAllocated(int pfn, int generation, long owner) {
        events.increment();
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.allocated = true;
            f.generation = generation;
            f.owner = owner;
            f.releasedBy = null;
            f.remember(Kind.ALLOCATED, owner, -1, generation);
        }
    }

    @Override
    public void frameFreed(int pfn, int generation) {
        events.increment();
        List<Translation> stale = null;
        List<String> story = null;
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(Kind.FREED, f.owner, -1, generation);
            f.allocated = false;
            for (Iterator<Translation> it = f.live.iterator(); it.hasNext(); ) {
                Translation t = it.next();
                if (t.generation() == generation) {
                    if (stale == null) {
                        stale = new ArrayList<>(1);
                    }
                    stale.add(t);
                    it.remove(); // reported once; the agent still holds it, but one account is enough
                }
            }
            if (stale != null) {
                story = story(f);
            }
        }
        if (stale != null) {
            for (Translation t : stale) {
                forgetFromAgent(t);
                report(Invariant.I3, t.agent(), "frame " + pfn + " (generation " + generation + ") was freed while "
                        + name(t.agent()) + " still translated 0x" + Long.toHexString(t.va()) + " (space " + t.space()
                        + ", cache " + t.cache() + ") to it", story);
            }
        }
    }

    // ---- dirty pages (I6) -----------------------------------------------------------------------------------------

    @Override
    public void frameDirtiedBySecondary(long agent, int pfn, int generation) {
        events.increment();
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(Kind.DIRTIED, agent, -1, generation);
            f.dirtiedBy = agent;
            f.dirtiedGeneration = generation;
        }
    }

    @Override
    public void pageCacheEvicted(int pfn, int generation, boolean writtenBack) {
        events.increment();
        long lostBy = -1;
        List<String> story = null;
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(writtenBack ? Kind.WRITTEN_BACK : Kind.EVICTED, f.owner, -1, generation);
            if (!writtenBack && f.dirtiedBy >= 0 && f.dirtiedGeneration == generation) {
                lostBy = f.dirtiedBy;
                story = story(f);
            }
            f.dirtiedBy = -1;
        }
        if (lostBy >= 0) {
            report(Invariant.I6, lostBy, "frame " + pfn + " (generation " + generation + ") left the page cache"
                    + " without being written back, although " + name(lostBy) + " reported writing it", story);
        }
    }

    // ---- translations ---------------------------------------------------------------------------------------------

    @Override
    public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                     boolean writable) {
        events.increment();
        Translation t = new Translation(agent, cache, space, va, pfn, generation);
        // Installing over a live slot overwrites it, as a TLB or page-table entry would: the old one is gone.
        Map<Slot, Translation> held = byAgent.computeIfAbsent(agent, a -> new ConcurrentHashMap<>());
        Translation replaced = held.put(t.slot(), t);
        if (t.equals(replaced)) {
            synchronized (lock(pfn)) {
                frame(pfn).remember(Kind.INSTALLED, agent, va, generation);
            }
            return; // the same translation again (a refill): still one live translation
        }
        if (replaced != null) {
            dropFromFrame(replaced, Kind.REMOVED);
        }
        List<String> story = null;
        String problem = null;
        Invariant broken = Invariant.I3;
        Long mm = mirrors.get(agent);
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(Kind.INSTALLED, agent, va, generation);
            if (!f.allocated || f.generation != generation) {
                problem = name(agent) + " installed a translation of 0x" + Long.toHexString(va) + " to frame " + pfn
                        + " generation " + generation + ", but that frame is " + (f.allocated
                        ? "now generation " + f.generation : "free");
                story = story(f);
            } else if (mm != null && !held(f, mm, generation)) {
                broken = Invariant.I2;
                problem = name(agent) + " (a secondary of mm " + mm + ") installed a translation of 0x"
                        + Long.toHexString(va) + " to frame " + pfn + " generation " + generation + ", which mm " + mm
                        + " does not hold (frame owner " + f.owner + ")";
                story = story(f);
            } else {
                f.live.add(t);
            }
        }
        if (problem != null) {
            forgetFromAgent(t); // reported once; its removal later is harmless
            report(broken, agent, problem, story);
        } else if (byAgent.get(agent) != held) {
            // A revocation (a fence, from the mm's thread) ran while this install was under way and took the map
            // before the translation reached its frame: the translation is revoked with the rest.
            dropFromFrame(t, Kind.REVOKED);
        }
    }

    @Override
    public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
        events.increment();
        Translation t = new Translation(agent, cache, space, va, pfn, generation);
        // A host PTE of a mirrored mm going away: the mm holds the frame until the invalidation covering it completes.
        boolean release = mirrored.contains(space) && !mirrors.containsKey(agent);
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(Kind.REMOVED, agent, va, generation);
            f.live.remove(t); // absent when it was revoked or already reported
            if (release && f.allocated && f.generation == generation) {
                if (f.releasedBy == null) {
                    f.releasedBy = new ArrayList<>(1);
                }
                f.releasedBy.add(space);
            } else {
                release = false;
            }
        }
        forgetFromAgent(t);
        if (release) {
            List<Release> list = releases.computeIfAbsent(space, k -> new ArrayList<>());
            synchronized (list) {
                list.add(new Release(pfn, generation, va));
            }
        }
    }

    @Override
    public void agentRevoked(long agent, String why) {
        events.increment();
        Map<Slot, Translation> all = byAgent.remove(agent);
        if (all == null) {
            return;
        }
        for (Translation t : all.values()) {
            dropFromFrame(t, Kind.REVOKED);
        }
    }

    // ---- invalidations --------------------------------------------------------------------------------------------

    @Override
    public void invalidationStarted(long mm, long batch, List<Range> ranges, InvalidationEvent event) {
        events.increment();
        openInvalidations.put(new BatchKey(mm, batch), new OpenInvalidation(System.nanoTime(), ranges, event));
    }

    @Override
    public void invalidationAcked(long mm, long batch, long subscription) {
        events.increment();
        noteReply(mm, batch, "acked by subscription " + subscription);
    }

    @Override
    public void invalidationFenced(long mm, long batch, long subscription) {
        events.increment();
        noteReply(mm, batch, "subscription " + subscription + " fenced");
    }

    @Override
    public void invalidationCompleted(long mm, long batch, long elapsedNanos) {
        events.increment();
        OpenInvalidation open = openInvalidations.remove(new BatchKey(mm, batch));
        if (open != null && mirrored.contains(mm)) {
            if (open.event == InvalidationEvent.RELEASE) {
                // The mm exited: what it gave up is checked now, and nothing it drops from here on is remembered.
                mirrored.remove(mm);
                closeReleases(mm, null);
                releases.remove(mm);
            } else {
                closeReleases(mm, open.ranges);
            }
        }
    }

    /**
     * I2: the invalidation over {@code ranges} (null: all of them) completed, so every secondary of {@code mm} has
     * dropped what it translated there, or was fenced. A frame the mm gave up under it and no longer holds must have
     * no translation of the mm's secondaries left.
     */
    private void closeReleases(long mm, List<Range> ranges) {
        List<Release> list = releases.get(mm);
        if (list == null) {
            return;
        }
        List<Release> closing = new ArrayList<>();
        synchronized (list) {
            for (Iterator<Release> it = list.iterator(); it.hasNext(); ) {
                Release r = it.next();
                if (ranges == null || Range.anyContains(ranges, r.va())) {
                    closing.add(r);
                    it.remove();
                }
            }
        }
        for (Release r : closing) {
            List<Translation> kept = null;
            List<String> story = null;
            synchronized (lock(r.pfn())) {
                Frame f = frame(r.pfn());
                if (!f.allocated || f.generation != r.generation()) {
                    continue; // freed since: I3 judged what was left on it
                }
                if (f.releasedBy != null) {
                    f.releasedBy.remove(Long.valueOf(mm));
                }
                if (held(f, mm, r.generation()) || !privateElsewhere(f, mm, r.generation())) {
                    // Still the mm's; or nobody's, a frame on its way to being freed (swap cache, migration); or a
                    // page-cache page, which any mapper of the file may read: I3 judges it when it is freed under
                    // the translation.
                    continue;
                }
                for (Iterator<Translation> it = f.live.iterator(); it.hasNext(); ) {
                    Translation t = it.next();
                    Long of = mirrors.get(t.agent());
                    if (of != null && of == mm && t.generation() == r.generation()) {
                        if (kept == null) {
                            kept = new ArrayList<>(1);
                        }
                        kept.add(t);
                        it.remove(); // reported once
                    }
                }
                if (kept != null) {
                    story = story(f);
                }
            }
            if (kept != null) {
                for (Translation t : kept) {
                    forgetFromAgent(t);
                    report(Invariant.I2, t.agent(), name(t.agent()) + " still translates 0x"
                            + Long.toHexString(t.va()) + " to frame " + r.pfn() + " (generation " + r.generation()
                            + ") after mm " + mm + " gave that frame up and the invalidation of 0x"
                            + Long.toHexString(r.va()) + " completed", story);
                }
            }
        }
    }

    /**
     * Whether this generation of the frame lives on as another address space's private memory: another mm's PTE maps
     * it, and it was allocated by an mm (by {@code mm} itself, or by one that maps it: an anonymous page shared
     * copy-on-write after a fork, or a KSM page), not by a file for its page cache. Caller holds the frame's lock.
     */
    private boolean privateElsewhere(Frame f, long mm, int generation) {
        boolean elsewhere = false;
        boolean ownedByAnMm = f.owner == mm;
        for (int i = 0; i < f.live.size(); i++) {
            Translation t = f.live.get(i);
            if (t.generation() == generation && !mirrors.containsKey(t.agent())) {
                elsewhere |= t.space() != mm;
                ownedByAnMm |= t.space() == f.owner;
            }
        }
        return elsewhere && ownedByAnMm;
    }

    /**
     * Whether address space {@code mm} holds this generation of the frame: one of its own PTEs maps it (a live
     * translation in space {@code mm} by an agent that is no secondary), or it gave the frame up under an invalidation
     * that is still running. Caller holds the frame's lock.
     */
    private boolean held(Frame f, long mm, int generation) {
        if (f.releasedBy != null && f.releasedBy.contains(mm)) {
            return true;
        }
        for (int i = 0; i < f.live.size(); i++) {
            Translation t = f.live.get(i);
            if (t.space() == mm && t.generation() == generation && !mirrors.containsKey(t.agent())) {
                return true;
            }
        }
        return false;
    }

    private void noteReply(long mm, long batch, String what) {
        OpenInvalidation open = openInvalidations.get(new BatchKey(mm, batch));
        if (open != null) {
            synchronized (open) {
                open.replies.add(String.format("+%.3f ms %s", (System.nanoTime() - started) / 1e6, what));
            }
        }
    }

    /**
     * I4: every invalidation open for longer than {@code limit} is a violation, reported once (call it at quiescent
     * points with the ack deadline plus some slack, or at the end of a run with {@link Duration#ZERO}: by then
     * everything must have completed). The story says what it was and who answered.
     *
     * @return the number of violations this call found
     */
    public int checkLiveness(Duration limit) {
        long now = System.nanoTime();
        int found = 0;
        for (Map.Entry<BatchKey, OpenInvalidation> e : openInvalidations.entrySet()) {
            OpenInvalidation open = e.getValue();
            if (now - open.startedNanos >= limit.toNanos() && openInvalidations.remove(e.getKey(), open)) {
                found++;
                List<String> story = new ArrayList<>();
                story.add(String.format("+%.3f ms started %s of %s", (open.startedNanos - started) / 1e6, open.event,
                        open.ranges));
                synchronized (open) {
                    story.addAll(open.replies);
                }
                report(Invariant.I4, -1, "invalidation batch " + e.getKey().batch() + " of mm " + e.getKey().mm()
                        + " (" + open.event + ") still open after " + Duration.ofNanos(now - open.startedNanos)
                        .toMillis() + " ms", story);
            }
        }
        return found;
    }

    /** Invalidation batches started and not yet completed (nor already reported by {@link #checkLiveness}). */
    public int openInvalidations() {
        return openInvalidations.size();
    }

    // ---- reports from agents and audits ---------------------------------------------------------------------------

    @Override
    public void violation(Invariant invariant, long agent, String detail) {
        events.increment();
        report(invariant, agent, detail, List.of());
    }

    /** I5: an audit's problems (leaked or mis-counted frames) become violations. */
    public void audit(HostCommand.AuditReport report) {
        boolean leakNamed = false;
        for (String problem : report.problems()) {
            report(Invariant.I5, -1, problem, List.of());
            leakNamed |= problem.contains("leak");
        }
        if (report.leaked() > 0 && !leakNamed) {
            report(Invariant.I5, -1, report.leaked() + " frame(s) leaked: allocated " + report.allocated()
                    + ", free " + report.free() + ", mapped " + report.mapped() + ", page cache " + report.pageCache()
                    + ", pending free " + report.pendingFree(), List.of());
        }
    }

    // ---- verdict --------------------------------------------------------------------------------------------------

    public boolean clean() {
        return total() == 0;
    }

    public long total() {
        long n = 0;
        for (int i = 0; i < counts.length(); i++) {
            n += counts.get(i);
        }
        return n;
    }

    /** Violations by invariant; every invariant is present, with 0 when clean. */
    public Map<Invariant, Long> counts() {
        Map<Invariant, Long> out = new EnumMap<>(Invariant.class);
        for (Invariant i : Invariant.values()) {
            out.put(i, counts.get(i.ordinal()));
        }
        return out;
    }

    public long count(Invariant invariant) {
        return counts.get(invariant.ordinal());
    }

    /** The first violations (at most 1,000 are kept with their stories). */
    public List<Violation> violations() {
        synchronized (kept) {
            return List.copyOf(kept);
        }
    }

    public long eventsSeen() {
        return events.sum();
    }

    /** Live translations the oracle knows of (for tests and end-of-run checks). */
    public long liveTranslations() {
        long n = 0;
        for (Map<Slot, Translation> m : byAgent.values()) {
            n += m.size();
        }
        return n;
    }

    // ---- internals ------------------------------------------------------------------------------------------------

    private void report(Invariant invariant, long agent, String detail, List<String> story) {
        counts.incrementAndGet(invariant.ordinal());
        synchronized (kept) {
            if (kept.size() < MAX_KEPT) {
                kept.add(new Violation(invariant, agent, agent < 0 ? "" : name(agent), detail, story));
            }
        }
    }

    private void forgetFromAgent(Translation t) {
        Map<Slot, Translation> m = byAgent.get(t.agent());
        if (m != null) {
            m.remove(t.slot(), t);
        }
    }

    private void dropFromFrame(Translation t, Kind why) {
        synchronized (lock(t.pfn())) {
            Frame f = frame(t.pfn());
            f.remember(why, t.agent(), t.va(), t.generation());
            f.live.remove(t);
        }
    }

    private Object lock(int pfn) {
        return locks[pfn & (STRIPES - 1)];
    }

    /** Caller holds the frame's lock. */
    private Frame frame(int pfn) {
        if (pfn < 0) {
            throw new IllegalArgumentException("pfn " + pfn + " is negative");
        }
        int c = pfn >>> CHUNK_BITS;
        Frame[] chunk = frames.get(c);
        if (chunk == null) {
            frames.compareAndSet(c, null, new Frame[CHUNK]);
            chunk = frames.get(c);
        }
        // One element per pfn: every reader and writer of it holds that pfn's stripe lock.
        int i = pfn & (CHUNK - 1);
        Frame f = chunk[i];
        if (f == null) {
            f = new Frame(storyLength);
            chunk[i] = f;
        }
        return f;
    }

    /** Caller holds the frame's lock. */
    private List<String> story(Frame f) {
        List<String> lines = new ArrayList<>(f.storySize);
        int n = f.nanos.length;
        for (int k = 0; k < f.storySize; k++) {
            int i = (f.storyNext - f.storySize + k + n) % n;
            Kind kind = KINDS[f.kinds[i]];
            String who = kind == Kind.ALLOCATED || kind == Kind.FREED ? "owner " + f.agents[i] : name(f.agents[i]);
            lines.add(String.format("+%.3f ms %s gen %d %s%s", (f.nanos[i] - started) / 1e6, kind,
                    f.generations[i], who, f.vas[i] >= 0 ? " va 0x" + Long.toHexString(f.vas[i]) : ""));
        }
        return lines;
    }

    private String name(long agent) {
        String n = names.get(agent);
        return n != null ? n + " (#" + agent + ")" : "agent #" + agent;
    }
}
