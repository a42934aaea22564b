package io.shadowmmu.guest.tlb;

import java.util.Arrays;

/**
 * A vCPU's private translation cache: virtual page number to host frame, with the frame's generation, its
 * writability and the frame's word array cached for the hit path. Set associative with LRU replacement, and fronted
 * by a direct-mapped first level (a micro-TLB) that answers most hits with one or two array reads.
 *
 * <p>The first level holds a subset of the TLB's entries: each of its slots names a TLB slot together with the page
 * and whether it may be written. It is inclusive: whatever drops or replaces a TLB entry (flush, invalidate,
 * eviction, refill) drops its first-level slot too, so it never answers for a translation the TLB no longer has.
 * {@link #revalidate} drops the first-level slots whose frame changed generation; a caller that revalidates at the
 * start of each run of accesses (check mode, once per vCPU slice) knows every first-level hit of that run was
 * checked, and checks only the hits that come from the TLB proper.
 *
 * <p>The first level's slot of a page is its page number modulo the slot count, so one aligned run of that many pages
 * (the <em>window</em>) maps one page to one slot. {@link #hitFrame} answers a page of the window from the window's
 * own arrays without comparing a tag: a slot there is non-null only while the first level holds that very page. A
 * window hit is counted but does not stamp the entry's LRU time (see {@link #insert} for how window entries age). The
 * window moves to where the first level's other hits are (checked every {@value #WINDOW_CHECK} clock ticks).
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

    /** First-level slots: twice the entries, so pages that share a set rarely share a slot; never above this. */
    private static final int MAX_L0 = 1024;
    /** Clock ticks (first-level hits outside the window, lookups, fills) between checks of the window's place. */
    private static final int WINDOW_CHECK = 1024;
    /** Added to a window entry's LRU time when a victim is chosen: in use while the window holds it. */
    private static final long IN_WINDOW = 1L << 62;

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
    // The first level as parallel arrays, indexed by the page's low bits: a hit reads the tag and the frame from
    // the same index (two independent loads), so the word read waits for one load only, as in a plain page array.
    // l0Tag packs (vpn + 1) << 1 | writable; 0 is empty.
    private final long[] l0Tag;
    private final long[][] l0Frame;
    private final int[] l0Slot;
    private final int l0Mask;
    private boolean l0Empty = true;
    // The window: pages [windowBase, windowBase + l0 size), aligned, are at first-level slot (vpn - windowBase). Its
    // slot holds the frame only while the first level holds that page (and, for windowWrite, may write it); null
    // otherwise. So a window hit needs the page's range check and one read, no tag compare.
    private final long[][] windowRead;
    private final long[][] windowWrite;
    private long windowBase;
    private int windowCount;
    private long windowHits;
    private long windowHitsAtCheck;
    /** LRU stamp, bumped by every hit outside the window and every fill; hits = clock - fills + windowHits. */
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
        l0Tag = new long[l0Size];
        l0Frame = new long[l0Size][];
        l0Slot = new int[l0Size];
        l0Mask = l0Size - 1;
        windowRead = new long[l0Size][];
        windowWrite = new long[l0Size][];
        // No page is below 0: the window starts out covering nothing.
        windowBase = -l0Size;
    }

    public void setDropListener(DropListener l) {
        this.listener = l == null ? NO_LISTENER : l;
    }

    public TlbGeometry geometry() {
        return geometry;
    }

    /**
     * The first level alone: the slot of {@code vpn} if it has it (writable, when {@code write}), counted as a hit
     * and made most recently used; else -1, counting nothing (go on with {@link #lookup}).
     */
    public int hit(long vpn, boolean write) {
        int i = (int) vpn & l0Mask;
        // A read accepts either writability: or-ing the low bit in makes a read-only slot compare equal too.
        if ((l0Tag[i] | (write ? 0 : 1)) != ((vpn + 1) << 1 | 1)) {
            return -1;
        }
        int slot = l0Slot[i];
        lastUse[slot] = tick(vpn);
        return slot;
    }

    /**
     * The hit path: the words cached for {@code vpn} if the first level has the page (writable, when {@code write})
     * with its words, counted as a hit; else null, counting nothing (go on with {@link #lookup}). A page of the
     * window is answered by one read of the window; any other by the first level's tag compare, like {@link #hit}.
     */
    public long[] hitFrame(long vpn, boolean write) {
        long d = vpn - windowBase;
        if (d >= 0 && d < windowRead.length) {
            // Definitive: the window's slot is the first level's slot for this page.
            long[] words = (write ? windowWrite : windowRead)[(int) d];
            if (words != null) {
                windowHits++;
            }
            return words;
        }
        int i = (int) vpn & l0Mask;
        long[] words = l0Frame[i];
        if ((l0Tag[i] | (write ? 0 : 1)) != ((vpn + 1) << 1 | 1) || words == null) {
            return null;
        }
        lastUse[l0Slot[i]] = tick(vpn);
        return words;
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
        l0Put(slot);
        lastUse[slot] = tick(vpn);
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
     * entered in the first level. An entry the window holds counts as more recent than any other (its hits are not
     * stamped); among those, and when it leaves the window, its time is that of its last stamp.
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
            } else {
                long use = inWindow(i) ? lastUse[i] + IN_WINDOW : lastUse[i];
                if (use < oldest) {
                    victim = i;
                    oldest = use;
                }
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
        fills++;
        valid++;
        if (windowCount == 0 && words != null) {
            // Nothing in the window (a start, or after a flush): put it where the TLB is being filled.
            moveWindow(vpn);
        }
        l0Put(victim);
        lastUse[victim] = tick(vpn);
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
        for (int i = 0; i < l0Tag.length; i++) {
            if (l0Tag[i] != 0) {
                int slot = l0Slot[i];
                if (current.current(pfn[slot]) != generation[slot]) {
                    l0Clear(i);
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
            Arrays.fill(l0Tag, 0);
            Arrays.fill(l0Frame, null);
            l0Empty = true;
        }
        if (windowCount != 0) {
            Arrays.fill(windowRead, null);
            Arrays.fill(windowWrite, null);
            windowCount = 0;
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

    /** The first page of the window (visible for tests). */
    long windowBase() {
        return windowBase;
    }

    /** Valid entries right now. */
    public int size() {
        return valid;
    }

    public TlbStats stats() {
        return new TlbStats(clock - fills + windowHits, misses, flushes, flushedEntries, evictions);
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
        int i = (int) (t - 1) & l0Mask;
        if (l0Tag[i] != 0) {
            l0Clear(i);
        }
        l0Tag[i] = t << 1 | (writable[slot] ? 1 : 0);
        l0Frame[i] = frame[slot];
        l0Slot[i] = slot;
        l0Empty = false;
        if (inWindowRange(t - 1)) {
            windowEnter(i);
        }
    }

    /** Removes a valid slot from the first level, if it is there. */
    private void l0Drop(int slot) {
        int i = (int) (tag[slot] - 1) & l0Mask;
        if (l0Tag[i] != 0 && l0Slot[i] == slot) {
            l0Clear(i);
        }
    }

    private void l0Clear(int i) {
        if (windowRead[i] != null) {
            windowLeave(i);
        }
        l0Tag[i] = 0;
        l0Frame[i] = null;
    }

    /** The window is aligned to the first level's size, so a window page's first-level slot is its offset in it. */
    private boolean inWindowRange(long vpn) {
        return (vpn & ~(long) l0Mask) == windowBase;
    }

    private void windowEnter(int i) {
        long[] words = l0Frame[i];
        if (words != null) {
            windowRead[i] = words;
            windowWrite[i] = (l0Tag[i] & 1) != 0 ? words : null;
            windowCount++;
        }
    }

    /** A window entry leaves it: its hits were not stamped, so it was in use until now. */
    private void windowLeave(int i) {
        lastUse[l0Slot[i]] = clock;
        windowRead[i] = null;
        windowWrite[i] = null;
        windowCount--;
    }

    /** Whether TLB slot {@code slot} (valid) is in the window. */
    private boolean inWindow(int slot) {
        long d = tag[slot] - 1 - windowBase;
        return d >= 0 && d < windowRead.length && windowRead[(int) d] != null && l0Slot[(int) d] == slot;
    }

    /** Moves the window to the aligned run of pages holding {@code vpn}, with what the first level has there. */
    private void moveWindow(long vpn) {
        for (int i = 0; i < windowRead.length && windowCount > 0; i++) {
            if (windowRead[i] != null) {
                windowLeave(i);
            }
        }
        windowBase = vpn & ~(long) l0Mask;
        for (int i = 0; i < l0Tag.length; i++) {
            if (l0Tag[i] != 0 && inWindowRange((l0Tag[i] >>> 1) - 1)) {
                windowEnter(i);
            }
        }
        windowHitsAtCheck = windowHits;
    }

    /**
     * The next LRU stamp, for a use of {@code vpn} outside the window. Every {@value #WINDOW_CHECK} ticks: if the
     * window answered fewer hits than that meanwhile, most of the first level's work is elsewhere, so the window
     * moves to {@code vpn}'s run of pages.
     */
    private long tick(long vpn) {
        long c = ++clock;
        if ((c & (WINDOW_CHECK - 1)) == 0) {
            if (windowHits - windowHitsAtCheck < WINDOW_CHECK) {
                moveWindow(vpn);
            }
            windowHitsAtCheck = windowHits;
        }
        return c;
    }
}
