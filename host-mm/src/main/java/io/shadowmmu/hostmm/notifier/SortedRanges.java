package io.shadowmmu.hostmm.notifier;


import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Ranges merged into sorted, disjoint runs, so asking whether one address is inside costs a binary search: a dirty
 * report checked against every frame the batches in flight hold stays linear in the frames.
 */
final class SortedRanges {
    private final long[] starts;
    private final long[] ends;

    private SortedRanges(long[] starts, long[] ends) {
        this.starts = starts;
        this.ends = ends;
    }

    static SortedRanges of(List<Range> ranges) {
        Range[] sorted = ranges.toArray(new Range[0]);
        Arrays.sort(sorted, Comparator.comparingLong(Range::start));
        long[] starts = new long[sorted.length];
        long[] ends = new long[sorted.length];
        int n = 0;
        for (Range r : sorted) {
            if (n > 0 && r.start() <= ends[n - 1]) {
                ends[n - 1] = Math.max(ends[n - 1], r.end());
            } else {
                starts[n] = r.start();
                ends[n] = r.end();
                n++;
            }
        }
        return new SortedRanges(Arrays.copyOf(starts, n), Arrays.copyOf(ends, n));
    }

    boolean contains(long va) {
        int i = Arrays.binarySearch(starts, va);
        int run = i >= 0 ? i : -i - 2; // the last run starting at or before va
        return run >= 0 && va < ends[run];
    }
}
