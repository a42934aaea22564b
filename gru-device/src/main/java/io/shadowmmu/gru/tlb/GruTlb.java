package io.shadowmmu.gru.tlb;

/**
 * A device TLB: set-associative, tagged by ASID, least-recently-used replacement within a set. Owned by one device
 * actor (single-threaded); the hit path touches only these arrays. ASID 0 marks a free way.
 */
public final class GruTlb {
    /** Told about every translation that leaves the TLB (flush or eviction), for the oracle and dirty tracking. */
    public interface Removal {
        void removed(int asid, long vpn, int pfn, int generation, boolean dirty);
    }

    private final int sets;
    private final int ways;
    private final int[] asid;
    private final long[] vpn;
    private final int[] pfn;
    private final int[] generation;
    private final boolean[] writable;
    private final boolean[] dirty;
    private final long[] lastUse;
    private final long[][] words;
    private long clock;
    private int valid;

    public GruTlb(int entries, int ways) {
        if (ways < 1 || entries < ways || entries % ways != 0) {
            throw new IllegalArgumentException("TLB of " + entries + " entries cannot have " + ways + " ways");
        }
        this.sets = entries / ways;
        this.ways = ways;
        this.asid = new int[entries];
        this.vpn = new long[entries];
        this.pfn = new int[entries];
        this.generation = new int[entries];
        this.writable = new boolean[entries];
        this.dirty = new boolean[entries];
        this.lastUse = new long[entries];
        this.words = new long[entries][];
    }

    public int capacity() {
        return asid.length;
    }

    /** Valid entries right now. */
    public int size() {
        return valid;
    }

    private int setOf(int a, long v) {
        long h = (v * 0x9E3779B97F4A7C15L) ^ ((long) a * 0xC2B2AE3D27D4EB4FL);
        return (int) Long.remainderUnsigned(h ^ (h >>> 29), sets) * ways;
    }

    /** The slot holding (asid, vpn), refreshed as most recently used, or -1. */
    public int lookup(int a, long v) {
        int base = setOf(a, v);
        for (int i = base; i < base + ways; i++) {
            if (asid[i] == a && vpn[i] == v) {
                lastUse[i] = ++clock;
                return i;
            }
        }
        return -1;
    }

    public int pfn(int slot) {
        return pfn[slot];
    }

    public int generation(int slot) {
        return generation[slot];
    }

    public boolean writable(int slot) {
        return writable[slot];
    }

    /** The frame's words cached at drop-in (null in tagged content mode). */
    public long[] words(int slot) {
        return words[slot];
    }

    public void markDirty(int slot) {
        dirty[slot] = true;
    }

    /**
     * Installs (asid, vpn) -> pfn, replacing an entry for the same page or else the set's least recently used way
     * (reported to {@code removal} when it was valid). Returns the slot.
     */
    public int install(int a, long v, int frame, int gen, boolean canWrite, long[] frameWords, Removal removal) {
        if (a == 0) {
            throw new IllegalArgumentException("ASID 0 is reserved for free entries");
        }
        int base = setOf(a, v);
        int victim = -1;
        for (int i = base; i < base + ways; i++) {
            if (asid[i] == a && vpn[i] == v) {
                victim = i;
                break;
            }
            if (victim < 0 || (asid[victim] != 0 && (asid[i] == 0 || lastUse[i] < lastUse[victim]))) {
                victim = i;
            }
        }
        if (asid[victim] != 0) {
            drop(victim, removal);
        }
        asid[victim] = a;
        vpn[victim] = v;
        pfn[victim] = frame;
        generation[victim] = gen;
        writable[victim] = canWrite;
        dirty[victim] = false;
        words[victim] = frameWords;
        lastUse[victim] = ++clock;
        valid++;
        return victim;
    }

    /** Drops one slot (a stale entry found on the hit path). */
    public void invalidate(int slot, Removal removal) {
        if (asid[slot] != 0) {
            drop(slot, removal);
        }
    }

    /** Drops every entry of {@code a} with a page in {@code [startVpn, endVpn)}; returns how many. */
    public int flushRange(int a, long startVpn, long endVpn, Removal removal) {
        int n = 0;
        if (endVpn - startVpn <= sets) {
            for (long v = startVpn; v < endVpn; v++) {
                int base = setOf(a, v);
                for (int i = base; i < base + ways; i++) {
                    if (asid[i] == a && vpn[i] == v) {
                        drop(i, removal);
                        n++;
                    }
                }
            }
            return n;
        }
        for (int i = 0; i < asid.length; i++) {
            if (asid[i] == a && vpn[i] >= startVpn && vpn[i] < endVpn) {
                drop(i, removal);
                n++;
            }
        }
        return n;
    }

    /** Drops every entry of {@code a}; returns how many. */
    public int flushAsid(int a, Removal removal) {
        int n = 0;
        for (int i = 0; i < asid.length; i++) {
            if (asid[i] == a) {
                drop(i, removal);
                n++;
            }
        }
        return n;
    }

    public int countAsid(int a) {
        int n = 0;
        for (int x : asid) {
            if (x == a) {
                n++;
            }
        }
        return n;
    }

    private void drop(int i, Removal removal) {
        int a = asid[i];
        asid[i] = 0;
        words[i] = null;
        valid--;
        removal.removed(a, vpn[i], pfn[i], generation[i], dirty[i]);
    }
}
