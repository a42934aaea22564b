package io.shadowmmu.scenario.secondary;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The translations of a simple secondary MMU (page to frame and generation), the building block of a test
 * subscriber: every install and removal is told to the oracle (which binds the agent to mm {@code mmId} for I2
 * when it is the host's sink), and a read through a translation whose frame was freed and reused is reported as I3
 * in check mode. Owned by one actor, which keeps the notifier contract (sequence
 * check before {@link #install}, drop before ack) and enters its access grant around {@link #read}.
 */
public final class TranslationCache {
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final long agent;
    private final long mmId;
    private final String name;
    /** page -> (pfn << 32 | generation) */
    private final Map<Long, Long> translations = new HashMap<>();

    /**
     * @param agent the oracle agent the translations belong to (named by the caller)
     * @param name  how violations name this secondary
     */
    public TranslationCache(PhysicalMemory memory, long agent, long mmId, String name) {
        this.memory = memory;
        this.events = memory.events();
        this.agent = agent;
        this.mmId = mmId;
        this.name = name;
        events.mirrors(agent, mmId); // I2: every install must be of a frame mm mmId holds
    }

    public boolean holds(long page) {
        return translations.containsKey(page);
    }

    /**
     * Reads the word at {@code va} through its page's translation; false, with nothing read, when there is none.
     * The caller has entered its grant.
     */
    public boolean read(long va) {
        long page = va & ~(PhysicalMemory.PAGE_SIZE - 1);
        Long entry = translations.get(page);
        if (entry == null) {
            return false;
        }
        int pfn = (int) (entry >>> 32);
        int generation = (int) (long) entry;
        if (memory.checkMode() && memory.generation(pfn) != generation) {
            events.violation(Invariant.I3, agent, name + " read 0x" + Long.toHexString(va)
                    + " through a translation to frame " + pfn + " generation " + generation
                    + ", which was freed and reused (now generation " + memory.generation(pfn) + ")");
        }
        memory.read(pfn, (int) ((va & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3));
        return true;
    }

    /** Caches a granted page (read-only); the caller has checked that no invalidation ran since it asked. */
    public void install(long page, int pfn, int generation) {
        translations.put(page, ((long) pfn << 32) | (generation & 0xFFFF_FFFFL));
        events.translationInstalled(agent, 0, mmId, page, pfn, generation, false);
    }

    /** Drops every translation inside {@code ranges} (an invalidation's flush, before its ack). */
    public void drop(List<Range> ranges) {
        for (Iterator<Map.Entry<Long, Long>> it = translations.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Long> e = it.next();
            if (Range.anyContains(ranges, e.getKey())) {
                removed(e.getKey(), e.getValue());
                it.remove();
            }
        }
    }

    /** Drops every translation (a release, a fence, or an exit). */
    public void dropAll() {
        for (Map.Entry<Long, Long> e : translations.entrySet()) {
            removed(e.getKey(), e.getValue());
        }
        translations.clear();
    }

    /**
     * Forgets every translation without telling the oracle one by one: for a crash, where the caller revokes the
     * whole agent instead ({@link CoherenceEvents#agentRevoked}).
     */
    public void forget() {
        translations.clear();
    }

    /** Whether any translation lies inside {@code range} (a young-bit query's answer). */
    public boolean holdsAny(Range range) {
        for (Long page : translations.keySet()) {
            if (range.contains(page)) {
                return true;
            }
        }
        return false;
    }

    public int size() {
        return translations.size();
    }

    private void removed(long page, long entry) {
        events.translationRemoved(agent, 0, mmId, page, (int) (entry >>> 32), (int) entry);
    }
}
