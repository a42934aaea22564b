package io.shadowmmu.guest.tlb;

import java.util.Arrays;

/**
 * A vCPU's private translation cache: virtual page number to host frame, with the frame's generation, its
 * writability and the frame's word array cached for the hit path. Set associative with true LRU replacement, and
 * fronted by a direct-mapped first level (a micro-TLB) that answers most hits with one array read.
 *
 * <p>The first level holds a subset of the TLB's entries: each of its slots names a TLB slot together with the page
 * and whether it may be written. It is inclusive: whatever drops or replaces a TLB entry (flush, invalidate,
 * eviction, refill) drops its first-level slot too, so it never answers for a translation the TLB no longer has.
 * {@link #revalidate} drops the first-level slots whose frame changed generation; a caller that revalidates at the
 * start of each run of accesses (check mode, once per vCPU slice) knows every first-level hit of that run was
 * checked, and checks only the hits that come from the TLB proper.
 *
 * <p>Single-threaded (owned by one vCPU actor) and made only of primitive arrays: a hit allocates nothing, sends
 * nothing and takes no lock. Like a hardware TLB it is not coherent by itself: whoever changes a translation must
 * get it flushed (a remote TLB flush, served between slices).
 */
public final class Tlb {
    /** Receives each valid entry a flush or an eviction drops (for the oracle's translation bookkeeping). */
    @FunctionalInterface
    public interface DropListener {
        void dropped(long vpn, int pfn, int generation);
    }

    /** A frame's current generation (in the emulator, {@code PhysicalMemory::generation}). */
    @FunctionalInterface
    public interface Generations {
        int current(int pfn);
    }

    public static final DropListener NO_LISTENER = (vpn, pfn, generation) -> { };

    /**
     * A first-level slot packs {@code ((vpn + 1) << 1 | writable) << SLOT_BITS | tlbSlot} into one long, so a hit is
     * one read and one compare; 0 is empty. TLB slots fit (at most 2^16 entries, see {@link TlbGeometry}).
     */
    private static final int SLOT_BITS = 16;
    private static final long SLOT_MASK = (1L << SLOT_BITS) - 1;
    /** Pages whose packed tag would not fit 63 bits never enter the first level (guest pages are far below). */
    private static final long MAX_L0_TAG = 1L << (62 - SLOT_BITS);
    /** First-level slots: twice the entries, so pages that share a set rarely share a slot; never above this. */
    private static final int MAX_L0 = 1024;

    private final TlbGeometry geometry;
    private final int ways;
    private final int setMask;
    // tag = vpn + 1, so 0 marks an empty slot (page numbers are below 2^52).
    private final long[] tag;
    private final int[] pfn;
    private final int[] generation;
    private final boolean[] writable;
    private final long[][] frame;
    private final long[] lastUse;
    private final long[] l0;
    private final int l0Mask;
    private boolean l0Empty = true;
    /** LRU stamp, bumped by every hit and every fill; so hits = clock - fills without a counter of their own. */
    private long clock;
    private long fills;
    private int valid;
    private DropListener listener = NO_LISTENER;

    private long misses;
    private long flushes;
    private long flushedEntries;
    private long evictions;

    public Tlb(TlbGeometry geometry) {
        this.geometry = geometry;
        this.ways = geometry.ways();
        this.setMask = geometry.sets() - 1;
        int n = geometry.entries();
        tag = new long[n];
        pfn = new int[n];
        generation = new int[n];
        writable = new boolean[n];
        frame = new long[n][];
        lastUse = new long[n];
        int atLeastN = n == 1 ? 1 : Integer.highestOneBit(n - 1) << 1;
        int l0Size = Math.min(MAX_L0, 2 * atLeastN);
        l0 = new long[l0Size];
        l0Mask = l0Size - 1;
    }

    public void setDropListener(DropListener l) {
        this.listener = l == null ? NO_LISTENER : l;
    }

    public TlbGeometry geometry() {
        return geometry;
    }

    /**
     * The hit path: the slot of {@code vpn} if the first level has it (writable, when {@code write}), counted as a
     * hit and made most recently used; else -1, counting nothing (go on with {@link #lookup}).
     */
    public int hit(long vpn, boolean write) {
        long e = l0[(int) vpn & l0Mask];
        // A read accepts either writability: or-ing the low bit in makes a read-only slot compare equal too.
        if ((e >>> SLOT_BITS | (write ? 0 : 1)) != ((vpn + 1) << 1 | 1)) {
            return -1;
        }
        int slot = (int) (e & SLOT_MASK);
        lastUse[slot] = ++clock;
        return slot;
    }

    /**
     * Looks {@code vpn} up in the TLB proper; the slot of the entry (a hit, counted, and entered in the first
     * level) or -1 (a miss, counted).
     */
    public int lookup(long vpn) {
        long t = vpn + 1;
        int base = ((int) vpn & setMask) * ways;
        // Compare every way without an early exit: on a random stream which way hits is unpredictable, and a
        // select (conditional move) costs less than a mispredicted branch per way.
        int slot = -1;
        for (int i = base + ways - 1; i >= base; i--) {
            slot = tag[i] == t ? i : slot;
        }
        if (slot < 0) {
            misses++;
            return -1;
        }
        lastUse[slot] = ++clock;
        l0Put(slot);
        return slot;
    }

    /** Like {@link #lookup} but counts nothing and leaves LRU order and the first level alone. */
    public int probe(long vpn) {
        long t = vpn + 1;
        int base = ((int) vpn & setMask) * ways;
        for (int i = base, end = base + ways; i < end; i++) {
            if (tag[i] == t) {
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

    /** The cached frame contents (null when the host keeps only tags). */
    public long[] frame(int slot) {
        return frame[slot];
    }

    public long vpn(int slot) {
        return tag[slot] - 1;
    }

    /**
     * Fills a translation, replacing an existing entry for the same page, else an empty way, else the least
     * recently used way of the set (reported to the drop listener and counted as an eviction). The new entry is
     * entered in the first level.
     *
     * @return the slot used
     */
    public int insert(long vpn, int framePfn, int frameGeneration, boolean canWrite, long[] words) {
        long t = vpn + 1;
        int base = ((int) vpn & setMask) * ways;
        int victim = -1;
        long oldest = Long.MAX_VALUE;
        for (int i = base, end = base + ways; i < end; i++) {
            if (tag[i] == t) {
                listener.dropped(vpn, pfn[i], generation[i]);
                victim = i;
                valid--;
                break;
            }
            if (tag[i] == 0) {
                if (oldest != Long.MIN_VALUE) {
                    victim = i;
                    oldest = Long.MIN_VALUE;
                }
            } else if (lastUse[i] < oldest) {
                victim = i;
                oldest = lastUse[i];
            }
        }
        if (tag[victim] != 0) {
            l0Drop(victim);
            if (tag[victim] != t) {
                evictions++;
                listener.dropped(tag[victim] - 1, pfn[victim], generation[victim]);
                valid--;
            }
        }
        tag[victim] = t;
        pfn[victim] = framePfn;
        generation[victim] = frameGeneration;
        writable[victim] = canWrite;
        frame[victim] = words;
        lastUse[victim] = ++clock;
        fills++;
        valid++;
        l0Put(victim);
        return victim;
    }

    /**
     * Drops from the first level every slot whose frame is no longer of the generation its entry was made for. The
     * entries stay in the TLB: their next use goes through {@link #lookup}, where the caller's check sees them.
     */
    public void revalidate(Generations current) {
        if (l0Empty) {
            return;
        }
        for (int i = 0; i < l0.length; i++) {
            long e = l0[i];
            if (e != 0) {
                int slot = (int) (e & SLOT_MASK);
                if (current.current(pfn[slot]) != generation[slot]) {
                    l0[i] = 0;
                }
            }
        }
    }

    /** Drops one slot (e.g. a hit whose frame turned out stale in check mode). Not counted as a flush. */
    public void invalidate(int slot) {
        if (tag[slot] != 0) {
            listener.dropped(tag[slot] - 1, pfn[slot], generation[slot]);
            clear(slot);
        }
    }

    /** Drops every entry. */
    public void flushAll() {
        flushes++;
        if (!l0Empty) {
            Arrays.fill(l0, 0);
            l0Empty = true;
        }
        if (valid == 0) {
            return;
        }
        for (int i = 0; i < tag.length; i++) {
            if (tag[i] != 0) {
                listener.dropped(tag[i] - 1, pfn[i], generation[i]);
                flushedEntries++;
                clear(i);
            }
        }
    }

    /**
     * Drops the entries for pages {@code [startVpn, endVpn)}. Above {@code flushAllThreshold} pages the whole TLB
     * is flushed instead, like x86 giving up on {@code invlpg} past 33 pages.
     */
    public void flushRange(long startVpn, long endVpn, int flushAllThreshold) {
        long pages = endVpn - startVpn;
        if (pages <= 0) {
            return;
        }
        if (pages > flushAllThreshold) {
            flushAll();
            return;
        }
        flushes++;
        if (valid == 0) {
            return;
        }
        if (pages <= tag.length) {
            for (long vpn = startVpn; vpn < endVpn; vpn++) {
                int slot = probe(vpn);
                if (slot >= 0) {
                    listener.dropped(vpn, pfn[slot], generation[slot]);
                    flushedEntries++;
                    clear(slot);
                }
            }
        } else {
            for (int i = 0; i < tag.length; i++) {
                long vpn = tag[i] - 1;
                if (tag[i] != 0 && vpn >= startVpn && vpn < endVpn) {
                    listener.dropped(vpn, pfn[i], generation[i]);
                    flushedEntries++;
                    clear(i);
                }
            }
        }
    }

    /** Valid entries right now. */
    public int size() {
        return valid;
    }

    public TlbStats stats() {
        return new TlbStats(clock - fills, misses, flushes, flushedEntries, evictions);
    }

    private void clear(int slot) {
        l0Drop(slot);
        tag[slot] = 0;
        frame[slot] = null;
        valid--;
    }

    /** Enters a valid slot in the first level, displacing whatever shared its first-level slot. */
    private void l0Put(int slot) {
        long t = tag[slot];
        if (t >= MAX_L0_TAG) {
            return;
        }
        l0[(int) (t - 1) & l0Mask] = (t << 1 | (writable[slot] ? 1 : 0)) << SLOT_BITS | slot;
        l0Empty = false;
    }

    /** Removes a valid slot from the first level, if it is there. */
    private void l0Drop(int slot) {
        int i = (int) (tag[slot] - 1) & l0Mask;
        long e = l0[i];
        if (e != 0 && (e & SLOT_MASK) == slot) {
            l0[i] = 0;
        }
    }
}
