package io.shadowmmu.gru.tlb;

/**
 * A set-associative device TLB tagged by ASID, in primitive arrays so the hit path allocates nothing. Entries are
 * replaced least recently used within their set. Owned by one device actor: no synchronisation.
 *
 * <p>Each entry remembers the frame generation it was made for, whether it allows stores, and whether a store went
 * through it (so a flush can tell the host which pages the device dirtied).
 */
public final class DeviceTlb {
    /** Receives each entry a flush or an eviction removes. */
    public interface Removal {
        void removed(int asid, long vpn, int pfn, int generation, boolean dirty);
    }

    private static final byte WRITABLE = 1;
    private static final byte DIRTY = 2;

    private final int ways;
    private final int setMask;
    private final int[] asid;      // 0 = invalid
    private final long[] vpn;
    private final int[] pfn;
    private final int[] generation;
    private final byte[] flags;
    private final long[] lastUse;
    private long clock;

    public DeviceTlb(int entries, int ways) {
        int sets = entries / ways;
        if (ways <= 0 || entries % ways != 0 || Integer.bitCount(sets) != 1) {
            throw new IllegalArgumentException("TLB entries " + entries + " must be ways " + ways
                    + " times a power of two");
        }
        this.ways = ways;
        this.setMask = sets - 1;
        this.asid = new int[entries];
        this.vpn = new long[entries];
        this.pfn = new int[entries];
        this.generation = new int[entries];
        this.flags = new byte[entries];
        this.lastUse = new long[entries];
    }

    public int entries() {
        return asid.length;
    }

    private int setBase(long v) {
        return (int) ((v ^ (v >>> 17)) & setMask) * ways;
    }

    /** The slot holding (asid, vpn), or -1; a hit refreshes its LRU age. */
    public int lookup(int a, long v) {
        int base = setBase(v);
        for (int i = base; i < base + ways; i++) {
            if (asid[i] == a && vpn[i] == v) {
                lastUse[i] = ++clock;
                return i;
            }
        }
        return -1;
    }

    /** Whether (asid, vpn) is present, without touching its LRU age. */
    public boolean probe(int a, long v) {
        int base = setBase(v);
        for (int i = base; i < base + ways; i++) {
            if (asid[i] == a && vpn[i] == v) {
                return true;
            }
        }
        return false;
    }

    public int pfn(int slot) {
        return pfn[slot];
    }

    public int generation(int slot) {
        return generation[slot];
    }

    public boolean writable(int slot) {
        return (flags[slot] & WRITABLE) != 0;
    }

    public void markDirty(int slot) {
        flags[slot] |= DIRTY;
    }

    /**
     * Installs (asid, vpn) -> pfn, replacing an existing entry for the same page or the set's least recently used
     * one; an evicted valid entry goes to {@code removal}. Returns the slot.
     */
    public int install(int a, long v, int frame, int gen, boolean canWrite, Removal removal) {
        int base = setBase(v);
        int victim = base;
        for (int i = base; i < base + ways; i++) {
            if (asid[i] == a && vpn[i] == v) {
                victim = i;
                break;
            }
            if (asid[i] == 0) {
                if (asid[victim] != 0) {
                    victim = i;
                }
            } else if (asid[victim] != 0 && lastUse[i] < lastUse[victim]) {
                victim = i;
            }
        }
        if (asid[victim] != 0) {
            removeSlot(victim, removal);
        }
        asid[victim] = a;
        vpn[victim] = v;
        pfn[victim] = frame;
        generation[victim] = gen;
        flags[victim] = canWrite ? WRITABLE : 0;
        lastUse[victim] = ++clock;
        return victim;
    }

    /** Removes one entry (e.g. a stale one found on the hit path). */
    public void remove(int slot, Removal removal) {
        if (asid[slot] != 0) {
            removeSlot(slot, removal);
        }
    }

    /** Flushes the pages [fromVpn, toVpn) of {@code a}; returns how many entries went. */
    public int flushRange(int a, long fromVpn, long toVpn, Removal removal) {
        int n = 0;
        long pages = toVpn - fromVpn;
        if (pages * ways < asid.length) {
            for (long v = fromVpn; v < toVpn; v++) {
                int base = setBase(v);
                for (int i = base; i < base + ways; i++) {
                    if (asid[i] == a && vpn[i] == v) {
                        removeSlot(i, removal);
                        n++;
                    }
                }
            }
            return n;
        }
        for (int i = 0; i < asid.length; i++) {
            if (asid[i] == a && vpn[i] >= fromVpn && vpn[i] < toVpn) {
                removeSlot(i, removal);
                n++;
            }
        }
        return n;
    }

    /** Flushes every entry of {@code a}; returns how many went. */
    public int flushAsid(int a, Removal removal) {
        int n = 0;
        for (int i = 0; i < asid.length; i++) {
            if (asid[i] == a) {
                removeSlot(i, removal);
                n++;
            }
        }
        return n;
    }

    /** Valid entries of {@code a} (for tests and statistics). */
    public int count(int a) {
        int n = 0;
        for (int x : asid) {
            if (x == a) {
                n++;
            }
        }
        return n;
    }

    private void removeSlot(int i, Removal removal) {
        int a = asid[i];
        asid[i] = 0;
        if (removal != null) {
            removal.removed(a, vpn[i], pfn[i], generation[i], (flags[i] & DIRTY) != 0);
        }
    }
}
