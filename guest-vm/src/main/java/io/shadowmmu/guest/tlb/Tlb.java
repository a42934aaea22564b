package io.shadowmmu.guest.tlb;

/**
 * A vCPU's private translation cache: virtual page number to host frame, with the frame's generation, its
 * writability and the frame's word array cached for the hit path. Set associative with true LRU replacement.
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

    public static final DropListener NO_LISTENER = (vpn, pfn, generation) -> { };

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
    private long clock;
    private int valid;
    private DropListener listener = NO_LISTENER;

    private long hits;
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
    }

    public void setDropListener(DropListener l) {
        this.listener = l == null ? NO_LISTENER : l;
    }

    public TlbGeometry geometry() {
        return geometry;
    }

    /** Looks {@code vpn} up; the slot of the entry (a hit, counted) or -1 (a miss, counted). */
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
        // Already the most recent entry: LRU order is unchanged, so skip the store.
        long now = clock;
        if (lastUse[slot] != now) {
            lastUse[slot] = clock = now + 1;
        }
        hits++;
        return slot;
    }

    /** Like {@link #lookup} but counts nothing and leaves LRU order alone. */
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
     * recently used way of the set (reported to the drop listener and counted as an eviction).
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
        if (tag[victim] != 0 && tag[victim] != t) {
            evictions++;
            listener.dropped(tag[victim] - 1, pfn[victim], generation[victim]);
            valid--;
        }
        tag[victim] = t;
        pfn[victim] = framePfn;
        generation[victim] = frameGeneration;
        writable[victim] = canWrite;
        frame[victim] = words;
        lastUse[victim] = ++clock;
        valid++;
        return victim;
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
        return new TlbStats(hits, misses, flushes, flushedEntries, evictions);
    }

    private void clear(int slot) {
        tag[slot] = 0;
        frame[slot] = null;
        valid--;
    }
}
