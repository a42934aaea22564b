package io.shadowmmu.hostmm.pagetable;

/**
 * What hardware may do with a host page table: walk it without a message and set accessed/dirty bits the way an MMU
 * does. Handed to subscribers that model hardware walkers (a GRU-style device's TLB drop-in); it cannot change a
 * translation, only the owning mm can.
 */
public interface PageTableWalker {
    /** The entry mapping {@code va} ({@link Pte#NONE} when none); a volatile read, safe from any thread. */
    long get(long va);

    /**
     * Sets accessed/dirty {@code bits} if the entry is still {@code expected}; false when it changed underneath (the
     * walker must walk again).
     */
    boolean setHardwareBits(long va, long expected, long bits);
}
