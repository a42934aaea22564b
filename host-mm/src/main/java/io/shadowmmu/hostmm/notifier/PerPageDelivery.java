package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.ArrayList;
import java.util.List;

/**
 * The 2.6.26-era {@code invalidate_page}: after each PTE is cleared, one notification for that page. Kept to measure
 * what batching saved: a 1 GiB munmap costs 262,144 starts (each paired with its end here, so every subscriber keeps
 * the same start/end bookkeeping).
 */
public final class PerPageDelivery implements DeliveryStrategy {
    public static final PerPageDelivery INSTANCE = new PerPageDelivery();

    private PerPageDelivery() {
    }

    @Override
    public DeliveryStrategyKind kind() {
        return DeliveryStrategyKind.PER_PAGE;
    }

    @Override
    public ChangeTiming timing() {
        return AfterChangeTiming.INSTANCE;
    }

    @Override
    public List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage) {
        List<List<Range>> out = new ArrayList<>((int) Math.min(Integer.MAX_VALUE, Range.totalPages(ranges)));
        for (Range r : ranges) {
            for (long va = r.start(); va < r.end(); va += Range.PAGE_SIZE) {
                out.add(List.of(new Range(va, Math.min(r.end(), va + Range.PAGE_SIZE))));
            }
        }
        return out;
    }
}
