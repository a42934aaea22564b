package io.shadowmmu.hostmm.pressure;

import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.concurrent.ConcurrentHashMap;

/**
 * References a memory-pressure daemon holds on frames it is working on ({@code isolate_lru_page}): the reclaimer
 * holding a page-cache page or a shared anonymous page while the mms unmap it. Kept apart so the I5 audit can
 * account for them: a daemon waiting on a slow or exiting mm holds a reference that is no leak.
 */
public final class IsolatedFrames {
    private final PhysicalMemory memory;
    private final ConcurrentHashMap<Integer, Integer> held = new ConcurrentHashMap<>();

    public IsolatedFrames(PhysicalMemory memory) {
        this.memory = memory;
    }

    /** Takes a reference to {@code pfn} if it is still allocated with that generation. */
    public boolean hold(int pfn, int generation) {
        if (!memory.tryGet(pfn, generation)) {
            return false;
        }
        held.merge(pfn, 1, Integer::sum);
        return true;
    }

    /** Drops a reference taken by {@link #hold}; the frame is freed if it was the last. */
    public void release(int pfn) {
        held.computeIfPresent(pfn, (k, n) -> n == 1 ? null : n - 1);
        memory.put(pfn);
    }

    /** References held on {@code pfn} now. */
    public int count(int pfn) {
        return held.getOrDefault(pfn, 0);
    }
}
