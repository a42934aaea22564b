package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.util.ArrayList;
import java.util.List;

/**
 * One notification each time the PT lock is dropped: per page-table page (512 PTEs, 2 MiB of address space), after
 * its PTEs were cleared. A 1 GiB munmap costs 512 starts.
 */
public final class PerPtPageDelivery implements DeliveryStrategy {
    public static final PerPtPageDelivery INSTANCE = new PerPtPageDelivery();
    /** Bytes mapped by one page-table page. */
    public static final long PT_PAGE_SPAN = 512 * Range.PAGE_SIZE;

    private PerPtPageDelivery() {
    }

    @Override
    public DeliveryStrategyKind kind() {
        return DeliveryStrategyKind.PER_PT_PAGE;
    }

    @Override
    public ChangeTiming timing() {
        return AfterChangeTiming.INSTANCE;
    }

    @Override
    public List<List<Range>> messages(List<Range> ranges, int maxRangesPerMessage) {
        List<List<Range>> out = new ArrayList<>();
        List<Range> current = new ArrayList<>();
        long currentTable = -1;
        for (Range r : ranges) {
            long va = r.start();
            while (va < r.end()) {
                long table = va / PT_PAGE_SPAN;
                long end = Math.min(r.end(), (table + 1) * PT_PAGE_SPAN);
                if (table != currentTable && !current.isEmpty()) {
                    out.add(List.copyOf(current));
                    current.clear();
                }
                currentTable = table;
                current.add(new Range(va, end));
                va = end;
            }
        }
        if (!current.isEmpty()) {
            out.add(List.copyOf(current));
        }
        return out;
    }
}
