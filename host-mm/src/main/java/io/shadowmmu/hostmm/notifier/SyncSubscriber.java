package io.shadowmmu.hostmm.notifier;


import java.util.List;

/**
 * A secondary MMU as {@link SynchronousMm} sees it: a callback object ({@code struct mmu_notifier_ops}) called with
 * the mm's lock held. Returning from {@link #invalidateStart} is the acknowledgement; a sleeping subscriber blocks the
 * calling thread, and with it the mm, until it is done. Benchmark baseline only.
 */
public interface SyncSubscriber {

    /** Drop and flush every translation of {@code ranges}; return once done. */
    void invalidateStart(long mm, List<Range> ranges, InvalidationEvent event);

    /** The primary's change is done; faults on these ranges may install again. */
    void invalidateEnd(long mm, List<Range> ranges);
}
