package io.shadowmmu.hostmm.notifier;

import java.util.List;
import java.util.function.Consumer;

/**
 * When one operation's subscribers hear about its PTE change relative to the change itself: the part of a
 * {@link DeliveryStrategy} that orders notify, change and hold. {@link MmNotifier} hands every change to its
 * strategy's timing and never branches on the strategy itself.
 */
public interface ChangeTiming {

    /** True when the mm admits no other change until every subscriber acked ({@code invalidate_range_start} waits). */
    boolean barrier();

    /**
     * Runs one change: applies {@code apply} to {@code gather}, now or once every subscriber acked, and tells the
     * overlapping subscribers through {@link MmNotifier#open}. Returns the batch in flight, which holds (or will
     * hold) the released frames; or null when no subscriber had to hear, and then the change is applied and its
     * released frames are in {@code gather} for the caller to free.
     */
    Batch run(MmNotifier notifier, Gather gather, InvalidationEvent event, List<Range> intent, boolean blockable,
              Consumer<Gather> apply);
}
