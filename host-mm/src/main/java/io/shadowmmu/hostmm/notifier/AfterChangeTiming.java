package io.shadowmmu.hostmm.notifier;

import java.util.List;
import java.util.function.Consumer;

/**
 * Notify after the change ({@code mmu_gather}-style): the PTEs change first, the subscribers hear about exactly the
 * ranges that changed (nothing at all when none did), and the gathered frames are held until every ack.
 */
public final class AfterChangeTiming implements ChangeTiming {
    public static final AfterChangeTiming INSTANCE = new AfterChangeTiming();

    private AfterChangeTiming() {
    }

    @Override
    public boolean barrier() {
        return false;
    }

    @Override
    public Batch run(MmNotifier notifier, Gather gather, InvalidationEvent event, List<Range> intent,
                     boolean blockable, Consumer<Gather> apply) {
        gather.reset();
        apply.accept(gather);
        List<Range> changed = gather.ranges();
        return changed.isEmpty() ? null : notifier.openAfterChange(event, List.copyOf(changed), blockable, gather);
    }
}
