package io.shadowmmu.kvm;

/**
 * A shadow/TDP page-table entry packed in one long, so a vCPU's hardware walk reads frame, generation and rights
 * in one atomic load: flags in bits 0-7, the host pfn in bits 8-31, the frame generation it was installed for in
 * bits 32-63.
 */
public final class Spte {
    public static final long NONE = 0;
    public static final long PRESENT = 1;
    public static final long WRITABLE = 1 << 1;
    public static final long ACCESSED = 1 << 2;
    public static final long DIRTY = 1 << 3;
    private static final int PFN_SHIFT = 8;
    private static final long PFN_MASK = 0xFF_FFFFL;

    private Spte() {
    }

    public static long make(int pfn, int generation, boolean writable) {
        return PRESENT | (writable ? WRITABLE : 0) | ((pfn & PFN_MASK) << PFN_SHIFT)
                | ((generation & 0xFFFF_FFFFL) << 32);
    }

    public static boolean present(long spte) {
        return (spte & PRESENT) != 0;
    }

    public static boolean writable(long spte) {
        return (spte & WRITABLE) != 0;
    }

    public static boolean accessed(long spte) {
        return (spte & ACCESSED) != 0;
    }

    public static boolean dirty(long spte) {
        return (spte & DIRTY) != 0;
    }

    public static int pfn(long spte) {
        return (int) ((spte >>> PFN_SHIFT) & PFN_MASK);
    }

    public static int generation(long spte) {
        return (int) (spte >>> 32);
    }
}
