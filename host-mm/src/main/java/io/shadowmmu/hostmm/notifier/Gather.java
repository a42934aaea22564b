package io.shadowmmu.hostmm.notifier;


import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one operation changed ({@code struct mmu_gather}): the pages whose PTEs changed, coalesced into ranges, and
 * the frames whose references the operation released, which must outlive every secondary's acknowledgement.
 * Reused across operations by its mm, so the common path allocates nothing.
 */
public final class Gather {
    private long[] vas = new long[64];
    private int[] pfns = new int[64];
    private int frames;

    private final List<Range> ranges = new ArrayList<>();
    private long runStart = -1;
    private long runEnd = -1;
    private long pages;

    public void reset() {
        frames = 0;
        ranges.clear();
        runStart = -1;
        runEnd = -1;
        pages = 0;
    }

    /** A PTE changed at {@code va}; consecutive pages coalesce into one range. */
    public void changed(long va) {
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
    public void release(long va, int pfn) {
        if (frames == pfns.length) {
            vas = Arrays.copyOf(vas, frames * 2);
            pfns = Arrays.copyOf(pfns, frames * 2);
        }
        vas[frames] = va;
        pfns[frames] = pfn;
        frames++;
    }

    /** Changed ranges, coalesced, in the order the operation visited them. */
    public List<Range> ranges() {
        flushRun();
        return ranges;
    }

    public long pagesChanged() {
        return pages;
    }

    public int frameCount() {
        return frames;
    }

    public boolean isEmpty() {
        return pages == 0 && frames == 0;
    }

    public int pfn(int i) {
        return pfns[i];
    }

    public long va(int i) {
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
