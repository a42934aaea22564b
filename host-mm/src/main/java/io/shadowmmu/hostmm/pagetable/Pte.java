package io.shadowmmu.hostmm.pagetable;

/**
 * x86-64 style page-table entry packed in a long. Hardware bits are where x86 keeps them; software bits use the
 * ignored positions. A non-present entry may still carry a swap slot or a PROT_NONE frame.
 */
public final class Pte {
    public static final long NONE = 0L;

    public static final long PRESENT = 1L;          // _PAGE_PRESENT
    public static final long WRITABLE = 1L << 1;    // _PAGE_RW
    public static final long USER = 1L << 2;        // _PAGE_USER
    public static final long ACCESSED = 1L << 5;    // _PAGE_ACCESSED
    public static final long DIRTY = 1L << 6;       // _PAGE_DIRTY
    public static final long COW = 1L << 9;         // software: write must break copy-on-write
    public static final long PROT_NONE = 1L << 10;  // software: frame kept, access denied (PROT_NONE)
    public static final long SWAP = 1L << 61;       // software: non-present, pfn field holds a swap slot
    public static final long MIGRATION = 1L << 62;  // software: non-present, page is being migrated

    private static final int PFN_SHIFT = 12;
    private static final long PFN_MASK = ((1L << 40) - 1) << PFN_SHIFT;

    private Pte() {
    }

    public static long make(int pfn, boolean writable) {
        return ((long) pfn << PFN_SHIFT) & PFN_MASK | PRESENT | USER | (writable ? WRITABLE : 0);
    }

    public static long swapEntry(long slot) {
        return (slot << PFN_SHIFT) & PFN_MASK | SWAP;
    }

    public static long migrationEntry(int pfn) {
        return ((long) pfn << PFN_SHIFT) & PFN_MASK | MIGRATION;
    }

    public static boolean isPresent(long pte) {
        return (pte & PRESENT) != 0;
    }

    public static boolean isNone(long pte) {
        return pte == NONE;
    }

    public static boolean isWritable(long pte) {
        return (pte & WRITABLE) != 0;
    }

    public static boolean isDirty(long pte) {
        return (pte & DIRTY) != 0;
    }

    public static boolean isAccessed(long pte) {
        return (pte & ACCESSED) != 0;
    }

    public static boolean isCow(long pte) {
        return (pte & COW) != 0;
    }

    public static boolean isProtNone(long pte) {
        return (pte & PROT_NONE) != 0;
    }

    public static boolean isSwap(long pte) {
        return (pte & SWAP) != 0;
    }

    public static boolean isMigration(long pte) {
        return (pte & MIGRATION) != 0;
    }

    /** True when the entry holds a frame reference (present, or PROT_NONE). */
    public static boolean holdsFrame(long pte) {
        return (pte & (PRESENT | PROT_NONE)) != 0;
    }

    public static int pfn(long pte) {
        return (int) ((pte & PFN_MASK) >>> PFN_SHIFT);
    }

    public static long swapSlot(long pte) {
        return (pte & PFN_MASK) >>> PFN_SHIFT;
    }

    public static String describe(long pte) {
        if (pte == NONE) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        if (isSwap(pte)) {
            return "swap:" + swapSlot(pte);
        }
        sb.append("pfn=").append(pfn(pte));
        if (isPresent(pte)) {
            sb.append(" P");
        }
        if (isWritable(pte)) {
            sb.append(" W");
        }
        if (isAccessed(pte)) {
            sb.append(" A");
        }
        if (isDirty(pte)) {
            sb.append(" D");
        }
        if (isCow(pte)) {
            sb.append(" COW");
        }
        if (isProtNone(pte)) {
            sb.append(" PROT_NONE");
        }
        if (isMigration(pte)) {
            sb.append(" MIGRATING");
        }
        return sb.toString();
    }
}
