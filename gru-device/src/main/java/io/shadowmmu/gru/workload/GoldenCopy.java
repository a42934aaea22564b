package io.shadowmmu.gru.workload;

import io.shadowmmu.hostmm.notifier.Range;

import java.util.Arrays;
import java.util.List;

/**
 * What one user process's memory must hold, word by word, as far as the process can know (invariant I1): its
 * regions are fresh anonymous memory (zero), then hold what it stored and what its AMOs left. While the host
 * discards part of them (munmap then mmap again, MADV_DONTNEED: {@link #discarding} to {@link #discarded}) those
 * words are unknown; afterwards they are zero again, except those the process wrote meanwhile, whose store may
 * have landed before or after the discard and stay unknown until written again. Nothing else changes the contents
 * behind the process's back in the gru scenario: the stressor's mprotect keeps them, and after a fork the child
 * exits without touching them while the parent keeps its own view (copy-on-write).
 *
 * <p>Pages are allocated on first write, so a region nobody wrote costs nothing. Owned by the process's actor.
 */
final class GoldenCopy {
    private static final int WORDS = 512;
    private static final int SHIFT = 12;

    /** One page's words; a page with no {@code Page} is all zero and known. */
    private static final class Page {
        final long[] values = new long[WORDS];
        /** Words whose contents the process cannot know now. */
        final long[] unknown = new long[WORDS / 64];
        /** Words written while a discard of the page was running. */
        final long[] touched = new long[WORDS / 64];
        /** Discards of this page running now. */
        int discards;
    }

    private final List<Range> regions;
    private final Page[][] pages;

    GoldenCopy(List<Range> regions) {
        this.regions = List.copyOf(regions);
        this.pages = new Page[regions.size()][];
        for (int i = 0; i < regions.size(); i++) {
            pages[i] = new Page[(int) regions.get(i).pages()];
        }
    }

    /** True when the word at {@code va} is known; {@link #expected} is then what a read must return. */
    boolean knows(long va) {
        Page p = page(va, false);
        if (p == null) {
            return region(va) >= 0;
        }
        int w = word(va);
        return (p.unknown[w >>> 6] & (1L << w)) == 0;
    }

    long expected(long va) {
        Page p = page(va, false);
        return p == null ? 0 : p.values[word(va)];
    }

    /** The process's own write of {@code value} at {@code va} (a store, or what an AMO left). */
    void wrote(long va, long value) {
        Page p = page(va, true);
        if (p == null) {
            return; // outside the regions: nothing to check there either
        }
        int w = word(va);
        long bit = 1L << w;
        p.values[w] = value;
        if (p.discards > 0) {
            p.unknown[w >>> 6] |= bit; // landed before or after the discard: cannot tell
            p.touched[w >>> 6] |= bit;
        } else {
            p.unknown[w >>> 6] &= ~bit;
        }
    }

    /** The host is about to discard {@code range}: its words are unknown until {@link #discarded}. */
    void discarding(Range range) {
        forEachPage(range, p -> {
            p.discards++;
            Arrays.fill(p.unknown, -1L);
        });
    }

    /** The discard of {@code range} is over: what the process did not write meanwhile is zero again. */
    void discarded(Range range) {
        forEachPage(range, p -> {
            if (p.discards == 0 || --p.discards > 0) {
                return;
            }
            Arrays.fill(p.values, 0L);
            System.arraycopy(p.touched, 0, p.unknown, 0, p.unknown.length);
            Arrays.fill(p.touched, 0L);
        });
    }

    private void forEachPage(Range range, java.util.function.Consumer<Page> action) {
        for (long va = range.start(); va < range.end(); va += Range.PAGE_SIZE) {
            Page p = page(va, true);
            if (p != null) {
                action.accept(p);
            }
        }
    }

    private int region(long va) {
        for (int i = 0; i < regions.size(); i++) {
            if (regions.get(i).contains(va)) {
                return i;
            }
        }
        return -1;
    }

    private Page page(long va, boolean create) {
        int r = region(va);
        if (r < 0) {
            return null;
        }
        int index = (int) ((va - regions.get(r).start()) >>> SHIFT);
        Page p = pages[r][index];
        if (p == null && create) {
            p = new Page();
            pages[r][index] = p;
        }
        return p;
    }

    private static int word(long va) {
        return (int) ((va >>> 3) & (WORDS - 1));
    }
}
