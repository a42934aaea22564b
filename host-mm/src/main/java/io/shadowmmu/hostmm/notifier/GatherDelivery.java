package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.List;

/**
 * Linus's "gather under the lock, do the slow part after": the mm clears PTEs in one handler, gathers the released
 * frames into a pending batch that holds their references, then tells the subscribers; frames are freed when all
 * acked or were fenced. The mm goes on serving other work meanwhile; faults on the batch's ranges wait for it.
 */
public final class GatherDelivery implements DeliveryStrategy {
    public static final GatherDelivery INSTANCE = new GatherDelivery();

    private GatherDelivery() {
    }

    @Override
    public DeliveryStrategyKind kind() {
        return DeliveryStrategyKind.GATHER;
    }

    @Override
    public ChangeTiming timing() {
        return AfterChangeTiming.INSTANCE;
    }

    @Override
    public List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage) {
        return DeliveryStrategy.chunks(ranges, maxRangesPerMessage);
    }
}
