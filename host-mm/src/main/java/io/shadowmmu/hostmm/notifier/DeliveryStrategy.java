package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.List;

/**
 * How an mm tells its subscribers about one operation's PTE changes: when (before the change, as a barrier the mm
 * waits on, or after it, with the frames held until every ack), and how many messages the changed ranges become.
 * One class per design of the 2008 debate, so each can be measured on the same workload. The timing is a
 * {@link ChangeTiming} the engine delegates to; the message split is {@link #messages}.
 */
public interface DeliveryStrategy {

    DeliveryStrategyKind kind();

    /**
     * When subscribers hear about a change relative to the PTE change itself, and so whether the mm waits (a
     * barrier) or the frames do.
     */
    ChangeTiming timing();

    /** True for barrier strategies: the mm waits for every ack before it changes a PTE. */
    default boolean notifiesBeforeChange() {
        return timing().barrier();
    }

    /**
     * Splits the ranges one subscriber must hear about into messages, each a list of ranges. Coalescing happens
     * before: ranges here are already merged.
     */
    List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage);

    static DeliveryStrategy of(DeliveryStrategyKind kind) {
        switch (kind) {
            case RANGE:
                return RangeDelivery.INSTANCE;
            case GATHER:
                return GatherDelivery.INSTANCE;
            case PER_PAGE:
                return PerPageDelivery.INSTANCE;
            case PER_PT_PAGE:
                return PerPtPageDelivery.INSTANCE;
            case TWO_PHASE:
                return TwoPhaseDelivery.INSTANCE;
            default:
                throw new IllegalArgumentException("delivery strategy " + kind + " is not available yet");
        }
    }

    /** Splits {@code ranges} into lists of at most {@code max} ranges: one message per list. */
    static List<List<Range>> chunks(List<Range> ranges, int max) {
        if (ranges.size() <= max) {
            return List.of(ranges);
        }
        java.util.ArrayList<List<Range>> out = new java.util.ArrayList<>();
        for (int i = 0; i < ranges.size(); i += max) {
            out.add(List.copyOf(ranges.subList(i, Math.min(ranges.size(), i + max))));
        }
        return out;
    }
}
