package io.shadowmmu.hostmm.notifier;

import java.util.List;

/**
 * What part of an mm a subscriber wants to hear about: the whole mm ({@code mmu_notifier_register}) or one
 * interval ({@code mmu_interval_notifier_insert}).
 */
public record Interest(Range interval) {
    public static final Interest WHOLE_MM = new Interest(null);

    public static Interest interval(long start, long end) {
        return new Interest(new Range(start, end));
    }

    public boolean isWholeMm() {
        return interval == null;
    }

    public boolean overlaps(Range r) {
        return interval == null || interval.overlaps(r);
    }

    /** The parts of {@code ranges} this interest covers, clipped; the same list when it covers all. */
    public List<Range> clip(List<Range> ranges) {
        if (interval == null) {
            return ranges;
        }
        java.util.ArrayList<Range> out = new java.util.ArrayList<>(ranges.size());
        for (Range r : ranges) {
            Range i = interval.intersect(r);
            if (i != null) {
                out.add(i);
            }
        }
        return out;
    }
}
