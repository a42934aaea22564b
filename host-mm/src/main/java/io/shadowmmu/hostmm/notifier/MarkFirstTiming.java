package io.shadowmmu.hostmm.notifier;

import java.util.List;
import java.util.function.Consumer;

/**
 * Notify before the change without waiting (the two-phase proposal's {@code invalidate_range}): the starts mark the
 * intended range in every subscriber, the PTEs change at once, and the frames wait for the acks (the sync).
 */
public final class MarkFirstTiming implements ChangeTiming {
    public static final MarkFirstTiming INSTANCE = new MarkFirstTiming();

    private MarkFirstTiming() {
    }

    @Override
    public boolean barrier() {
        return false;
    }

    @Override
    public Batch run(MmNotifier notifier, Gather gather, InvalidationEvent event, List<Range> intent,
                     boolean blockable, Consumer<Gather> apply) {
        Batch b = notifier.open(event, intent, blockable, false);
        gather.reset();
        apply.accept(gather);
        if (b != null) {
            b.applied(gather);
        }
        return b;
    }
}
