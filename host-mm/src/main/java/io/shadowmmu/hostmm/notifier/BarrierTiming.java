package io.shadowmmu.hostmm.notifier;

import java.util.List;
import java.util.function.Consumer;

/**
 * Notify before the change and wait ({@code invalidate_range_start} as a barrier): the starts go out over what the
 * operation intends to change, and the PTEs change only once every subscriber acked; meanwhile the mm admits no
 * other change.
 */
public final class BarrierTiming implements ChangeTiming {
    public static final BarrierTiming INSTANCE = new BarrierTiming();

    private BarrierTiming() {
    }

    @Override
    public boolean barrier() {
        return true;
    }

    @Override
    public Batch run(MmNotifier notifier, Gather gather, InvalidationEvent event, List<Range> intent,
                     boolean blockable, Consumer<Gather> apply) {
        Batch b = notifier.open(event, intent, blockable, true);
        if (b == null) {
            gather.reset();
            apply.accept(gather);
            return null;
        }
        b.change = () -> {
            gather.reset();
            apply.accept(gather);
            b.hold(gather);
        };
        return b;
    }
}
