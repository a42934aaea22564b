package io.shadowmmu.gru.device;

import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.ArrayList;
import java.util.List;

/**
 * One invalidation start whose range flushes are issued on flush handles: it is acknowledged once the last of them
 * ran, with the pages its flushes found dirty. With enough free handles that is inside the start's own handler.
 */
final class StartFlushes {
    final MmuNotification.InvalidateStart start;
    private int remaining;
    private List<Long> dirty;

    StartFlushes(MmuNotification.InvalidateStart start, int flushes) {
        this.start = start;
        this.remaining = flushes;
    }

    /** One flush ran and found {@code dirtyPages} dirty; true when it was the last. */
    boolean ran(List<Long> dirtyPages) {
        if (!dirtyPages.isEmpty()) {
            if (dirty == null) {
                dirty = new ArrayList<>();
            }
            dirty.addAll(dirtyPages);
        }
        return --remaining == 0;
    }

    boolean done() {
        return remaining == 0;
    }

    /** Pages stored to through the flushed entries, as coalesced ranges for the ack (I6). */
    List<Range> dirtyRanges() {
        return dirty == null ? List.of() : coalesce(dirty);
    }

    /** Sorts {@code pages} (page addresses, duplicates allowed) into maximal runs. */
    static List<Range> coalesce(List<Long> pages) {
        if (pages.isEmpty()) {
            return List.of();
        }
        pages.sort(null);
        List<Range> out = new ArrayList<>();
        long start = pages.get(0);
        long end = start + Range.PAGE_SIZE;
        for (int i = 1; i < pages.size(); i++) {
            long p = pages.get(i);
            if (p == end) {
                end += Range.PAGE_SIZE;
            } else if (p > end) {
                out.add(new Range(start, end));
                start = p;
                end = p + Range.PAGE_SIZE;
            }
        }
        out.add(new Range(start, end));
        return out;
    }
}
