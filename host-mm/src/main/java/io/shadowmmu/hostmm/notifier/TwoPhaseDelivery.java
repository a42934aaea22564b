package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.List;

/**
 * Christoph Lameter's two-phase proposal: {@code invalidate_range} marks the range in every subscriber before the
 * change without waiting, the mm changes its PTEs at once, and a sync (the acks) must complete before any frame is
 * freed. Two messages per subscriber per operation; the mm never waits, the frames do.
 */
public final class TwoPhaseDelivery implements DeliveryStrategy {
    public static final TwoPhaseDelivery INSTANCE = new TwoPhaseDelivery();

    private TwoPhaseDelivery() {
    }

    @Override
    public DeliveryStrategyKind kind() {
        return DeliveryStrategyKind.TWO_PHASE;
    }

    @Override
    public ChangeTiming timing() {
        return MarkFirstTiming.INSTANCE;
    }

    @Override
    public List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage) {
        return DeliveryStrategy.chunks(ranges, maxRangesPerMessage);
    }
}
