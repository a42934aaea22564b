package io.shadowmmu.hostmm.mm;

import io.shadowmmu.hostmm.notifier.Range;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one operation changed ({@code struct mmu_gather}): the pages whose PTEs changed, coalesced into ranges, and
 * the frames whose references the operation released, which must outlive every secondary's acknowledgement.
 * Reused across operations by its mm, so the common path allocates nothing.
 */
final class Gather {
    private long[] vas = new long[64];
    private int[] pfns = new int[64];
    private int frames;

    private final List<Range> ranges = new ArrayList<>();
    private long runStart = -1;
    private long runEnd = -1;
    private long pages;

    void reset() {
        frames = 0;
        ranges.clear();
        runStart = -1;
        runEnd = -1;
        pages = 0;
    }

    /** A PTE changed at {@code va}; consecutive pages coalesce into one range. */
    void changed(long va) {
        pages++;
        if (va == runEnd) {
            runEnd += Range.PAGE_SIZE;
            return;
        }
        flushRun();
        runStart = va;
        runEnd = va + Range.PAGE_SIZE;
    }

    /** The operation released its reference to {@code pfn} (mapped at {@code va}). */
    void release(long va, int pfn) {
        if (frames == pfns.length) {
            vas = Arrays.copyOf(vas, frames * 2);
            pfns = Arrays.copyOf(pfns, frames * 2);
        }
        vas[frames] = va;
        pfns[frames] = pfn;
        frames++;
    }

    /** Changed ranges, coalesced, in the order the operation visited them. */
    List<Range> ranges() {
        flushRun();
        return ranges;
    }

    long pagesChanged() {
        return pages;
    }

    int frameCount() {
        return frames;
    }

    boolean isEmpty() {
        return pages == 0 && frames == 0;
    }

    int pfn(int i) {
        return pfns[i];
    }

    long va(int i) {
        return vas[i];
    }

    /** Copies the released frames out, for a batch that outlives this operation. */
    long[] copyVas() {
        return Arrays.copyOf(vas, frames);
    }

    int[] copyPfns() {
        return Arrays.copyOf(pfns, frames);
    }

    private void flushRun() {
        if (runStart >= 0) {
            ranges.add(new Range(runStart, runEnd));
            runStart = -1;
            runEnd = -1;
        }
    }
}
