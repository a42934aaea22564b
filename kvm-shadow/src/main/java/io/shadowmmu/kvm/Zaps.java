package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.List;

/**
 * What removing, replacing or write-protecting an spte entails in either MMU: the oracle hears of it, it awaits a
 * remote flush ({@code tlbs_dirty}, D21), and a dirty bit it held is never lost (I6, D56).
 */
final class Zaps {
    private static final long PAGE = Memslot.PAGE;

    private final CoherenceEvents events;
    private final long agent;
    private final PhysicalMemory memory;
    private final RemoteFlush flush;
    private long zapped;

    Zaps(CoherenceEvents events, long agent, PhysicalMemory memory, RemoteFlush flush) {
        this.events = events;
        this.agent = agent;
        this.memory = memory;
        this.flush = flush;
    }

    /** sptes zapped so far. */
    long count() {
        return zapped;
    }

    /**
     * {@code old} was just cleared at {@code key} of address space {@code space}. A dirty one is reported as the host
     * page at {@code hva} in {@code dirty}; with no report to carry it ({@code dirty} null) its frame keeps the bit.
     */
    void zapped(long old, long space, long key, long hva, List<Range> dirty) {
        if (!Spte.present(old)) {
            return;
        }
        zapped++;
        flush.zapIssued();
        events.translationRemoved(agent, 0, space, key, Spte.pfn(old), Spte.generation(old));
        if (Spte.dirty(old) && dirty != null) {
            dirty.add(new Range(hva, hva + PAGE)); // written through the spte: the host must know (I6)
            events.frameDirtiedBySecondary(agent, Spte.pfn(old), Spte.generation(old));
        } else {
            keepDirty(old);
        }
    }

    /** A writable spte became read-only: a vCPU may still write through its cached entry until it flushes. */
    void writeProtected() {
        flush.zapIssued();
    }

    /** {@code installed} was just stored at {@code key} of {@code table} over {@code old}. */
    void installed(PageTable table, long space, long key, long installed, long old) {
        if (Spte.present(old)) {
            events.translationRemoved(agent, 0, space, key, Spte.pfn(old), Spte.generation(old));
            carryDirty(table, key, installed, old);
        }
        events.translationInstalled(agent, 0, space, key, Spte.pfn(installed), Spte.generation(installed),
                Spte.writable(installed));
    }

    /**
     * A racing fault installed the entry first and the guest wrote through it: only the old entry's dirty bit knows
     * ({@code mmu_spte_update} marks the pfn dirty). The same frame's new entry carries the bit on, so the next zap
     * reports the page; another frame keeps it itself.
     */
    private void carryDirty(PageTable table, long key, long installed, long old) {
        if (!Spte.dirty(old)) {
            return;
        }
        if (Spte.pfn(old) == Spte.pfn(installed) && Spte.generation(old) == Spte.generation(installed)) {
            table.setBits(key, Spte.DIRTY);
        } else {
            keepDirty(old);
        }
    }

    /**
     * An spte dropped outside an invalidation (guest page-table write, fence) loses its dirty bit unless the frame
     * keeps it ({@code kvm_set_pfn_dirty}); the generation check skips a frame the host already reused.
     */
    private void keepDirty(long old) {
        if (Spte.dirty(old) && memory.generation(Spte.pfn(old)) == Spte.generation(old)) {
            memory.setFlag(Spte.pfn(old), PhysicalMemory.FLAG_DIRTY);
        }
    }

    /** Reads (and with {@code clear}, clears) the accessed bit of the spte at {@code key}. */
    static boolean young(PageTable table, long key, boolean clear) {
        long spte = clear ? table.clearBits(key, Spte.ACCESSED) : table.get(key);
        return Spte.present(spte) && Spte.accessed(spte);
    }
}
