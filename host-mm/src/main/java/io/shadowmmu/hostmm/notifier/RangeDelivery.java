package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.List;

/**
 * {@code invalidate_range_start/end} around the whole operation: a start carrying every range, a barrier until every
 * subscriber acked, the change, then an end. Two messages per subscriber per operation; the mm waits ("sleeps").
 */
public final class RangeDelivery implements DeliveryStrategy {
    public static final RangeDelivery INSTANCE = new RangeDelivery();

    private RangeDelivery() {
    }

    @Override
    public DeliveryStrategyKind kind() {
        return DeliveryStrategyKind.RANGE;
    }

    @Override
    public ChangeTiming timing() {
        return BarrierTiming.INSTANCE;
    }

    @Override
    public List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage) {
        return DeliveryStrategy.chunks(ranges, maxRangesPerMessage);
    }
}
