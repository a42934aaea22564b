package io.shadowmmu.guest.tlb;

/**
 * The shape of a TLB: {@code entries} translations in {@code entries / ways} sets of {@code ways} each. {@code ways
 * == entries} is fully associative, {@code ways == 1} direct mapped. The set count must be a power of two, as in
 * hardware, so the set index is the low bits of the page number. At most {@link #MAX_ENTRIES} entries.
 */
public record TlbGeometry(int entries, int ways) {
    /** The first level packs a slot number into 16 bits (see {@link Tlb}). */
    public static final int MAX_ENTRIES = 1 << 16;

    public TlbGeometry {
        if (entries <= 0 || ways <= 0) {
            throw new IllegalArgumentException("TLB entries and ways must be positive: entries=" + entries
                    + " ways=" + ways);
        }
        if (entries > MAX_ENTRIES) {
            throw new IllegalArgumentException("TLB entries (" + entries + ") must be at most " + MAX_ENTRIES);
        }
        if (entries % ways != 0) {
            throw new IllegalArgumentException("TLB entries (" + entries + ") must be a multiple of ways (" + ways
                    + ")");
        }
        int sets = entries / ways;
        if (Integer.bitCount(sets) != 1) {
            throw new IllegalArgumentException("TLB sets (entries / ways = " + sets + ") must be a power of two");
        }
    }

    public static TlbGeometry fullyAssociative(int entries) {
        return new TlbGeometry(entries, entries);
    }

    public int sets() {
        return entries / ways;
    }
}
