package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.List;
import java.util.Map;

/**
 * Dirty tracking for the secondaries' writes ({@code set_page_dirty} on a secondary's behalf): a write through a
 * secondary's own mapping never sets the host PTE's dirty bit, so the frame is marked from what the secondary reports
 * in its acks, or, when it leaves without reporting, from everything it could have written (I6).
 */
final class DirtyTracker {
    private final PageTable pageTable;
    private final PhysicalMemory memory;
    /** The engine's batches in flight, by id: the frames they hold are where a reported page may be now. */
    private final Map<Long, Batch> batches;
    /** A race-catalogue variant under test, or NONE. */
    private final Variant variant;

    DirtyTracker(PageTable pageTable, PhysicalMemory memory, Map<Long, Batch> batches, Variant variant) {
        this.pageTable = pageTable;
        this.memory = memory;
        this.batches = batches;
        this.variant = variant;
    }

    /**
     * A secondary wrote through its own mapping: the frame is dirty even if the host PTE never said so (I6). The
     * frame it wrote is wherever the page's frame is now: still in the PTE, or held by this or any other batch in
     * flight, because a later operation may have taken the page out of the PTE before this ack arrived (GATHER does
     * not serialize operations). A frame marked here that the secondary did not write costs one needless writeback.
     */
    void reported(List<Range> dirty) {
        if (dirty.isEmpty() || variant == Variant.LOST_DIRTY) {
            return;
        }
        SortedRanges written = SortedRanges.of(dirty);
        for (Batch held : batches.values()) {
            markHeldFrames(held, written);
        }
        for (Range r : dirty) {
            for (long va = r.start(); va < r.end(); va += PageTable.PAGE_SIZE) {
                long pte = pageTable.get(va);
                if (Pte.holdsFrame(pte)) {
                    memory.setFlag(Pte.pfn(pte), PhysicalMemory.FLAG_DIRTY);
                }
            }
        }
    }

    private void markHeldFrames(Batch b, SortedRanges written) {
        for (int i = 0; i < b.frames; i++) {
            if (written.contains(b.vas[i])) {
                memory.setFlag(b.pfns[i], PhysicalMemory.FLAG_DIRTY);
            }
        }
    }

    /**
     * A subscriber that leaves without acking (fenced, or dead) never reports what it wrote through its own writable
     * mappings, so every frame it could have written becomes dirty: those the batches in flight hold in its interest,
     * and those still mapped writable there. Reclaim then writes them back rather than dropping a write (I6); the
     * price is a needless writeback of the pages it did not write, once per fence.
     */
    void assumeWrittenBy(Subscription s) {
        Range span = s.interest.isWholeMm() ? new Range(0, PageTable.VA_LIMIT) : s.interest.interval();
        SortedRanges interest = SortedRanges.of(List.of(span));
        for (Batch held : batches.values()) {
            markHeldFrames(held, interest);
        }
        pageTable.forEachEntry(span.start(), span.end(), (va, pte) -> {
            if (Pte.holdsFrame(pte) && Pte.isWritable(pte)) {
                memory.setFlag(Pte.pfn(pte), PhysicalMemory.FLAG_DIRTY);
            }
        });
    }
}
