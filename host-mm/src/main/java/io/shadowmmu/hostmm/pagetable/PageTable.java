package io.shadowmmu.hostmm.pagetable;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A 4-level, 512-entry-per-level page table for 48-bit virtual addresses (PGD, PUD, PMD, PTE).
 *
 * <p>Single writer: the owning mm actor changes entries. Other agents (the GRU's hardware walker,
 * {@code get_user_pages} on another actor, the host CPU's accessed/dirty updates) read without messages; every
 * read is a volatile read, so a reader sees an entry no older than the last write that happened-before it.
 * Accessed/dirty bits are set by "hardware" with compare-and-set, like a real MMU's locked update, which is why the
 * writer clears entries with {@link #getAndClear}: the returned value carries any dirty bit set concurrently.
 */
public final class PageTable implements PageTableWalker {
    public static final int ENTRIES = 512;
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    /** Bytes covered by one page-table page (one leaf table of 512 PTEs): 2 MiB. */
    public static final long PT_PAGE_SPAN = PAGE_SIZE * ENTRIES;
    public static final long VA_LIMIT = 1L << 48;

    private final AtomicReferenceArray<Object> pgd = new AtomicReferenceArray<>(ENTRIES);
    private long leafTables;

    /** Visitor of non-empty entries. */
    @FunctionalInterface
    public interface EntryVisitor {
        void visit(long va, long pte);
    }

    /** Reads the entry mapping {@code va}, or {@link Pte#NONE}. Safe from any thread. */
    @Override
    public long get(long va) {
        AtomicLongArray leaf = leaf(va);
        return leaf == null ? Pte.NONE : leaf.get(index(va, 0));
    }

    /** Stores an entry (writer only). */
    public void set(long va, long pte) {
        leafForWrite(va).set(index(va, 0), pte);
    }

    /** Clears an entry and returns its last value, including hardware-set accessed/dirty bits (writer only). */
    public long getAndClear(long va) {
        AtomicLongArray leaf = leaf(va);
        return leaf == null ? Pte.NONE : leaf.getAndSet(index(va, 0), Pte.NONE);
    }

    /** Replaces an entry and returns the old value (writer only). */
    public long getAndSet(long va, long pte) {
        return leafForWrite(va).getAndSet(index(va, 0), pte);
    }

    /**
     * Hardware accessed/dirty update: sets {@code bits} if the entry is still {@code expected} (with or without the
     * bits already). Returns false if the entry changed underneath, in which case the walker must re-walk.
     */
    @Override
    public boolean setHardwareBits(long va, long expected, long bits) {
        AtomicLongArray leaf = leaf(va);
        if (leaf == null) {
            return false;
        }
        int i = index(va, 0);
        long current = leaf.get(i);
        if ((current & ~(Pte.ACCESSED | Pte.DIRTY)) != (expected & ~(Pte.ACCESSED | Pte.DIRTY))) {
            return false;
        }
        return (current & bits) == bits || leaf.compareAndSet(i, current, current | bits);
    }

    /** Clears the accessed bit and tells whether it was set ({@code ptep_test_and_clear_young}). */
    public boolean testAndClearAccessed(long va) {
        AtomicLongArray leaf = leaf(va);
        if (leaf == null) {
            return false;
        }
        int i = index(va, 0);
        while (true) {
            long current = leaf.get(i);
            if ((current & Pte.ACCESSED) == 0) {
                return false;
            }
            if (leaf.compareAndSet(i, current, current & ~Pte.ACCESSED)) {
                return true;
            }
        }
    }

    /**
     * Visits every non-empty entry in {@code [start, end)} in address order, skipping absent tables. The visitor may
     * change the entry it is given (with {@link #getAndClear}, {@link #clearBits} or {@link #set}). Writer only.
     */
    public void forEachEntry(long start, long end, EntryVisitor visitor) {
        long va = Math.max(0, start);
        end = Math.min(end, VA_LIMIT);
        while (va < end) {
            // Skip absent tables at whatever level they are absent, so a walk of a sparse 48-bit space is cheap.
            long absentSpan = absentSpan(va);
            if (absentSpan > 0) {
                va = (va & ~(absentSpan - 1)) + absentSpan;
                continue;
            }
            AtomicLongArray leaf = leaf(va);
            long tableEnd = Math.min(end, (va & ~(PT_PAGE_SPAN - 1)) + PT_PAGE_SPAN);
            for (; va < tableEnd; va += PAGE_SIZE) {
                long pte = leaf.get(index(va, 0));
                if (pte != Pte.NONE) {
                    visitor.visit(va, pte);
                }
            }
        }
    }

    /**
     * Clears {@code bits} atomically and returns the entry as it was, so a dirty bit set concurrently by hardware is
     * never lost (writer only).
     */
    public long clearBits(long va, long bits) {
        AtomicLongArray leaf = leaf(va);
        if (leaf == null) {
            return Pte.NONE;
        }
        int i = index(va, 0);
        while (true) {
            long current = leaf.get(i);
            if (current == Pte.NONE || leaf.compareAndSet(i, current, current & ~bits)) {
                return current;
            }
        }
    }

    /** Sets {@code bits} atomically on a non-empty entry and returns the entry as it was (writer only). */
    public long setBits(long va, long bits) {
        AtomicLongArray leaf = leaf(va);
        if (leaf == null) {
            return Pte.NONE;
        }
        int i = index(va, 0);
        while (true) {
            long current = leaf.get(i);
            if (current == Pte.NONE || leaf.compareAndSet(i, current, current | bits)) {
                return current;
            }
        }
    }

    /** Number of leaf tables (page-table pages) allocated so far. */
    public long leafTables() {
        return leafTables;
    }

    /** Bytes covered by the highest absent table on the walk to {@code va}, or 0 when the leaf table exists. */
    @SuppressWarnings("unchecked")
    private long absentSpan(long va) {
        Object pud = pgd.get(index(va, 3));
        if (pud == null) {
            return PT_PAGE_SPAN << 18; // 512 GiB
        }
        Object pmd = ((AtomicReferenceArray<Object>) pud).get(index(va, 2));
        if (pmd == null) {
            return PT_PAGE_SPAN << 9; // 1 GiB
        }
        return ((AtomicReferenceArray<Object>) pmd).get(index(va, 1)) == null ? PT_PAGE_SPAN : 0;
    }

    private AtomicLongArray leaf(long va) {
        Object pud = pgd.get(index(va, 3));
        if (pud == null) {
            return null;
        }
        @SuppressWarnings("unchecked")
        Object pmd = ((AtomicReferenceArray<Object>) pud).get(index(va, 2));
        if (pmd == null) {
            return null;
        }
        @SuppressWarnings("unchecked")
        Object leaf = ((AtomicReferenceArray<Object>) pmd).get(index(va, 1));
        return (AtomicLongArray) leaf;
    }

    @SuppressWarnings("unchecked")
    private AtomicLongArray leafForWrite(long va) {
        if (va < 0 || va >= VA_LIMIT) {
            throw new IllegalArgumentException("virtual address outside 48 bits: 0x" + Long.toHexString(va));
        }
        AtomicReferenceArray<Object> pud = (AtomicReferenceArray<Object>) pgd.get(index(va, 3));
        if (pud == null) {
            pud = new AtomicReferenceArray<>(ENTRIES);
            pgd.set(index(va, 3), pud);
        }
        AtomicReferenceArray<Object> pmd = (AtomicReferenceArray<Object>) pud.get(index(va, 2));
        if (pmd == null) {
            pmd = new AtomicReferenceArray<>(ENTRIES);
            pud.set(index(va, 2), pmd);
        }
        AtomicLongArray leaf = (AtomicLongArray) pmd.get(index(va, 1));
        if (leaf == null) {
            leaf = new AtomicLongArray(ENTRIES);
            pmd.set(index(va, 1), leaf);
            leafTables++;
        }
        return leaf;
    }

    private static int index(long va, int level) {
        return (int) ((va >>> (PAGE_SHIFT + 9 * level)) & (ENTRIES - 1));
    }
}
