package io.shadowmmu.testkit.oracle;

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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The coherence oracle: receives every agent's events and checks the invariants of the design online.
 *
 * <ul>
 *   <li>I3: a frame is freed while some agent still holds a live translation to that generation of it, or a
 *       translation is installed for a frame generation that is not allocated (a stale grant installed).</li>
 *   <li>I4: an invalidation that never completes ({@link #checkLiveness}).</li>
 *   <li>I5: an audit with leaked or mis-counted frames ({@link #audit}).</li>
 *   <li>I1, I2, I6 and anything an agent detects itself arrive through {@link #violation}.</li>
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
    }

    private enum Kind {
        ALLOCATED, FREED, INSTALLED, REMOVED, REVOKED
    }

    /** A compact event for a frame's story. */
    private record Event(long nanos, Kind kind, long agent, long va, int generation) {
    }

    /** What the oracle knows about one frame. */
    private static final class Frame {
        boolean allocated;
        int generation;
        long owner;
        final List<Translation> live = new ArrayList<>(2);
        final Event[] story;
        int storyNext;
        int storySize;

        Frame(int storyLength) {
            story = new Event[storyLength];
        }

        void remember(Event e) {
            story[storyNext] = e;
            storyNext = (storyNext + 1) % story.length;
            storySize = Math.min(storySize + 1, story.length);
        }
    }

    private final int storyLength;
    private final Object[] locks = new Object[STRIPES];
    private final ConcurrentHashMap<Integer, Frame> frames = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Set<Translation>> byAgent = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, String> names = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> openInvalidations = new ConcurrentHashMap<>();
    private final AtomicLongArray counts = new AtomicLongArray(Invariant.values().length);
    private final List<Violation> kept = new ArrayList<>();
    private final AtomicLong events = new AtomicLong();
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

    // ---- frames ---------------------------------------------------------------------------------------------------

    @Override
    public void frameAllocated(int pfn, int generation, long owner) {
        events.incrementAndGet();
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.allocated = true;
            f.generation = generation;
            f.owner = owner;
            f.remember(new Event(System.nanoTime(), Kind.ALLOCATED, owner, -1, generation));
        }
    }

    @Override
    public void frameFreed(int pfn, int generation) {
        events.incrementAndGet();
        List<Translation> stale = null;
        List<String> story = null;
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(new Event(System.nanoTime(), Kind.FREED, f.owner, -1, generation));
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

    // ---- translations ---------------------------------------------------------------------------------------------

    @Override
    public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                     boolean writable) {
        events.incrementAndGet();
        Translation t = new Translation(agent, cache, space, va, pfn, generation);
        List<String> story = null;
        String problem = null;
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(new Event(System.nanoTime(), Kind.INSTALLED, agent, va, generation));
            if (!f.allocated || f.generation != generation) {
                problem = name(agent) + " installed a translation of 0x" + Long.toHexString(va) + " to frame " + pfn
                        + " generation " + generation + ", but that frame is " + (f.allocated
                        ? "now generation " + f.generation : "free");
                story = story(f);
            } else {
                f.live.add(t);
            }
        }
        if (problem != null) {
            report(Invariant.I3, agent, problem, story);
            return;
        }
        byAgent.computeIfAbsent(agent, a -> ConcurrentHashMap.newKeySet()).add(t);
    }

    @Override
    public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
        events.incrementAndGet();
        Translation t = new Translation(agent, cache, space, va, pfn, generation);
        synchronized (lock(pfn)) {
            Frame f = frame(pfn);
            f.remember(new Event(System.nanoTime(), Kind.REMOVED, agent, va, generation));
            f.live.remove(t); // absent when it was revoked or already reported
        }
        forgetFromAgent(t);
    }

    @Override
    public void agentRevoked(long agent, String why) {
        events.incrementAndGet();
        Set<Translation> all = byAgent.remove(agent);
        if (all == null) {
            return;
        }
        for (Translation t : all) {
            synchronized (lock(t.pfn())) {
                Frame f = frame(t.pfn());
                f.remember(new Event(System.nanoTime(), Kind.REVOKED, agent, t.va(), t.generation()));
                f.live.remove(t);
            }
        }
    }

    // ---- invalidations --------------------------------------------------------------------------------------------

    @Override
    public void invalidationStarted(long mm, long batch, List<Range> ranges, InvalidationEvent event) {
        events.incrementAndGet();
        openInvalidations.put(mm + "/" + batch, System.nanoTime());
    }

    @Override
    public void invalidationCompleted(long mm, long batch, long elapsedNanos) {
        events.incrementAndGet();
        openInvalidations.remove(mm + "/" + batch);
    }

    /**
     * I4: every invalidation open for longer than {@code limit} is a violation (call it at quiescent points, or at the
     * end of a run with a limit of zero: by then everything must have completed).
     *
     * @return the number of violations this call found
     */
    public int checkLiveness(Duration limit) {
        long now = System.nanoTime();
        int found = 0;
        for (Map.Entry<String, Long> e : openInvalidations.entrySet()) {
            if (now - e.getValue() >= limit.toNanos()) {
                if (openInvalidations.remove(e.getKey()) != null) {
                    found++;
                    report(Invariant.I4, -1, "invalidation " + e.getKey() + " (mm/batch) still open after "
                            + Duration.ofNanos(now - e.getValue()).toMillis() + " ms", List.of());
                }
            }
        }
        return found;
    }

    public int openInvalidations() {
        return openInvalidations.size();
    }

    // ---- reports from agents and audits ---------------------------------------------------------------------------

    @Override
    public void violation(Invariant invariant, long agent, String detail) {
        events.incrementAndGet();
        report(invariant, agent, detail, List.of());
    }

    /** I5: an audit's problems (leaked or mis-counted frames) become violations. */
    public void audit(HostCommand.AuditReport report) {
        for (String problem : report.problems()) {
            report(Invariant.I5, -1, problem, List.of());
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
        return events.get();
    }

    /** Live translations the oracle knows of (for tests and end-of-run checks). */
    public long liveTranslations() {
        long n = 0;
        for (Set<Translation> s : byAgent.values()) {
            n += s.size();
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
        Set<Translation> s = byAgent.get(t.agent());
        if (s != null) {
            s.remove(t);
        }
    }

    private Object lock(int pfn) {
        return locks[pfn & (STRIPES - 1)];
    }

    /** Caller holds the frame's lock. */
    private Frame frame(int pfn) {
        Frame f = frames.get(pfn);
        if (f == null) {
            f = new Frame(storyLength);
            frames.put(pfn, f);
        }
        return f;
    }

    /** Caller holds the frame's lock. */
    private List<String> story(Frame f) {
        List<String> lines = new ArrayList<>(f.storySize);
        for (int i = 0; i < f.storySize; i++) {
            Event e = f.story[(f.storyNext - f.storySize + i + f.story.length) % f.story.length];
            String who = e.kind() == Kind.ALLOCATED || e.kind() == Kind.FREED ? "owner " + e.agent() : name(e.agent());
            lines.add(String.format("+%.3f ms %s gen %d %s%s", (e.nanos() - started) / 1e6, e.kind(), e.generation(),
                    who, e.va() >= 0 ? " va 0x" + Long.toHexString(e.va()) : ""));
        }
        return lines;
    }

    private String name(long agent) {
        String n = names.get(agent);
        return n != null ? n + " (#" + agent + ")" : "agent #" + agent;
    }
}
