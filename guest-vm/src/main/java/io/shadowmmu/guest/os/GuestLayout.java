package io.shadowmmu.guest.os;

/**
 * The x86-64 paging layout the guest uses for its own page tables: 4 levels of 512 entries, one table per guest
 * page, entries in the host {@code Pte} bit format with the frame field holding a guest frame number (gfn). KVM
 * walks these in shadow mode and the vCPU's hardware walks them in TDP mode, so the format is the contract.
 */
public final class GuestLayout {
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    public static final int ENTRIES = 512;
    public static final int LEVELS = 4;
    /** Guest virtual addresses are 48-bit, like the host's. */
    public static final long VA_LIMIT = 1L << 48;

    private GuestLayout() {
    }

    /** Index into the table of {@code level} (3 = top, 0 = leaf) for {@code gva}. */
    public static int index(long gva, int level) {
        return (int) ((gva >>> (PAGE_SHIFT + 9 * level)) & (ENTRIES - 1));
    }

    /** Guest physical address of entry {@code index} in the table held by guest frame {@code tableGfn}. */
    public static long entryGpa(long tableGfn, int index) {
        return (tableGfn << PAGE_SHIFT) + 8L * index;
    }

    public static long vpn(long va) {
        return va >>> PAGE_SHIFT;
    }
}
