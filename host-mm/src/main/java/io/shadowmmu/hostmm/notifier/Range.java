package io.shadowmmu.hostmm.notifier;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/** A half-open, page-aligned virtual address range {@code [start, end)} of an mm. */
public record Range(long start, long end) {
    public static final long PAGE_SIZE = 4096;

    public Range {
        if (end < start) {
            throw new IllegalArgumentException("range end before start: " + hex(start) + "-" + hex(end));
        }
    }

    public static Range ofPages(long start, long pages) {
        return new Range(start, start + pages * PAGE_SIZE);
    }

    public long length() {
        return end - start;
    }

    public long pages() {
        return (end - start + PAGE_SIZE - 1) / PAGE_SIZE;
    }

    public boolean isEmpty() {
        return end == start;
    }

    public boolean contains(long va) {
        return va >= start && va < end;
    }

    public boolean overlaps(Range other) {
        return start < other.end && other.start < end;
    }

    public boolean overlaps(long otherStart, long otherEnd) {
        return start < otherEnd && otherStart < end;
    }

    public Range intersect(Range other) {
        long s = Math.max(start, other.start);
        long e = Math.min(end, other.end);
        return e > s ? new Range(s, e) : null;
    }

    public static boolean anyContains(List<Range> ranges, long va) {
        for (int i = 0; i < ranges.size(); i++) {
            if (ranges.get(i).contains(va)) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code a} and {@code b} merged into sorted, disjoint ranges (touching ones become one): the ranges of a batch
     * that several changes joined.
     */
    public static List<Range> union(List<Range> a, List<Range> b) {
        Range[] all = new Range[a.size() + b.size()];
        int n = 0;
        for (int i = 0; i < a.size(); i++) {
            all[n++] = a.get(i);
        }
        for (int i = 0; i < b.size(); i++) {
            all[n++] = b.get(i);
        }
        Arrays.sort(all, Comparator.comparingLong(Range::start));
        ArrayList<Range> out = new ArrayList<>(all.length);
        Range run = null;
        for (Range r : all) {
            if (run != null && r.start <= run.end) {
                if (r.end > run.end) {
                    run = new Range(run.start, r.end);
                }
            } else {
                if (run != null) {
                    out.add(run);
                }
                run = r;
            }
        }
        if (run != null) {
            out.add(run);
        }
        return out;
    }

    /**
     * Merges {@code r} into {@code sorted} (sorted and disjoint, as {@link #union} makes them), joining it with the
     * ranges it overlaps or touches.
     */
    static void insert(List<Range> sorted, Range r) {
        int lo = 0;
        int hi = sorted.size();
        while (lo < hi) { // the first range starting after r.start
            int mid = (lo + hi) >>> 1;
            if (sorted.get(mid).start <= r.start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        long start = r.start;
        long end = r.end;
        int at = lo;
        if (at > 0 && sorted.get(at - 1).end >= start) {
            at--;
            start = sorted.get(at).start;
            end = Math.max(end, sorted.get(at).end);
            sorted.remove(at);
        }
        while (at < sorted.size() && sorted.get(at).start <= end) {
            end = Math.max(end, sorted.get(at).end);
            sorted.remove(at);
        }
        sorted.add(at, start == r.start && end == r.end ? r : new Range(start, end));
    }

    public static long totalPages(List<Range> ranges) {
        long n = 0;
        for (Range r : ranges) {
            n += r.pages();
        }
        return n;
    }

    @Override
    public String toString() {
        return "[" + hex(start) + "-" + hex(end) + ")";
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
