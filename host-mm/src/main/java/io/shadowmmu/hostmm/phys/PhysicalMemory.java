package io.shadowmmu.hostmm.phys;

import io.shadowmmu.config.ContentMode;
import io.shadowmmu.config.HostSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The host's RAM and its {@code struct page} array: frames with real contents, a reference count, a map count,
 * flags and an owner generation.
 *
 * <p>This is hardware state shared by every agent of the host (principle 1 of DESIGN.md): mms allocate and free
 * frames from their own actors, vCPUs and devices read and write contents directly on their hit paths. Allocation is
 * a lock-free stack; contents are plain arrays (like real RAM, ordering between agents comes from the coherence
 * protocol's messages, not from the memory itself).
 *
 * <p>A frame lives while its reference count is above zero: a PTE, a page-cache slot or a pending-free batch each
 * hold one reference. The last {@link #put} frees it. Every allocation bumps the frame's generation, so a
 * translation that remembers the generation it was made for can tell, in check mode, that its frame was reused.
 */
public final class PhysicalMemory {
    /** Returned by {@link #allocate} when memory is exhausted; out-of-memory is a value, never an exception. */
    public static final int NO_FRAME = -1;
    public static final int WORDS_PER_PAGE = 512;
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;

    /** PG_anon: the frame holds anonymous memory (not page cache). */
    public static final int FLAG_ANON = 1;
    /** PG_dirty: contents differ from the backing store. */
    public static final int FLAG_DIRTY = 1 << 1;
    /** PG_ksm: a merged, write-protected KSM page. */
    public static final int FLAG_KSM = 1 << 2;
    /** PG_referenced: found young by the last aging pass; the next pass gives it a second chance. */
    public static final int FLAG_REFERENCED = 1 << 3;

    private final int frames;
    private final ContentMode mode;
    private final boolean checkMode;
    private final CoherenceEvents events;

    private final long[][] data;
    private final long[] tags;
    private final AtomicIntegerArray refcount;
    private final AtomicIntegerArray mapcount;
    private final AtomicIntegerArray generation;
    private final AtomicIntegerArray flags;
    private final long[] owner;
    private final long[] index;

    // Treiber stack of free frames: head packs (stamp << 32 | pfn + 1); the stamp defeats ABA.
    private final AtomicLong freeHead = new AtomicLong();
    private final int[] nextFree;
    private final AtomicLong freeCount = new AtomicLong();

    public PhysicalMemory(HostSettings settings, CoherenceEvents events) {
        this(settings.frames(), settings.contentMode(), settings.checkMode(), events);
    }

    public PhysicalMemory(int frames, ContentMode mode, boolean checkMode, CoherenceEvents events) {
        if (frames <= 0) {
            throw new IllegalArgumentException("frames must be positive: " + frames);
        }
        this.frames = frames;
        this.mode = mode;
        this.checkMode = checkMode;
        this.events = events;
        this.data = mode == ContentMode.FULL ? new long[frames][] : null;
        this.tags = mode == ContentMode.TAGGED ? new long[frames] : null;
        this.refcount = new AtomicIntegerArray(frames);
        this.mapcount = new AtomicIntegerArray(frames);
        this.generation = new AtomicIntegerArray(frames);
        this.flags = new AtomicIntegerArray(frames);
        this.owner = new long[frames];
        this.index = new long[frames];
        this.nextFree = new int[frames];
        // Low frames are handed out first, which keeps small runs readable in stories.
        for (int pfn = 0; pfn < frames; pfn++) {
            nextFree[pfn] = pfn + 1 < frames ? pfn + 1 : -1;
        }
        freeHead.set(1);
        freeCount.set(frames);
    }

    public int totalFrames() {
        return frames;
    }

    public long freeFrames() {
        return freeCount.get();
    }

    public long usedFrames() {
        return frames - freeCount.get();
    }

    public ContentMode contentMode() {
        return mode;
    }

    public boolean checkMode() {
        return checkMode;
    }

    public CoherenceEvents events() {
        return events;
    }

    /**
     * Takes a zeroed frame with a reference count of one ({@code alloc_page}).
     *
     * @param owner who the frame belongs to (an mm id, or a file id for page cache), for stories and I2
     * @param frameFlags initial flags such as {@link #FLAG_ANON}
     * @return the pfn, or {@link #NO_FRAME} when memory is exhausted
     */
    public int allocate(long owner, int frameFlags) {
        int pfn = popFree();
        if (pfn == NO_FRAME) {
            return NO_FRAME;
        }
        if (mode == ContentMode.FULL) {
            long[] words = data[pfn];
            if (words == null) {
                data[pfn] = new long[WORDS_PER_PAGE];
            } else {
                java.util.Arrays.fill(words, 0L);
            }
        } else {
            tags[pfn] = 0L;
        }
        this.owner[pfn] = owner;
        flags.set(pfn, frameFlags);
        mapcount.set(pfn, 0);
        int gen = generation.incrementAndGet(pfn);
        refcount.set(pfn, 1);
        events.frameAllocated(pfn, gen, owner);
        return pfn;
    }

    /** Takes another reference ({@code get_page}). The caller must already hold one, directly or through a PTE. */
    public void get(int pfn) {
        int before = refcount.getAndIncrement(pfn);
        if (before <= 0) {
            refcount.getAndDecrement(pfn);
            throw new IllegalStateException("get on free frame " + pfn);
        }
    }

    /** Drops a reference ({@code put_page}); the last one returns the frame to the free list. */
    public void put(int pfn) {
        int after = refcount.decrementAndGet(pfn);
        if (after == 0) {
            events.frameFreed(pfn, generation.get(pfn));
            flags.set(pfn, 0);
            pushFree(pfn);
        } else if (after < 0) {
            refcount.incrementAndGet(pfn);
            throw new IllegalStateException("put on free frame " + pfn);
        }
    }

    public int refcount(int pfn) {
        return refcount.get(pfn);
    }

    public int mapcount(int pfn) {
        return mapcount.get(pfn);
    }

    public void mapped(int pfn) {
        mapcount.incrementAndGet(pfn);
    }

    public void unmapped(int pfn) {
        mapcount.decrementAndGet(pfn);
    }

    /** The frame's current owner generation; a translation made for an older generation is stale. */
    public int generation(int pfn) {
        return generation.get(pfn);
    }

    public long owner(int pfn) {
        return owner[pfn];
    }

    /** Page index in the owning file for a page-cache frame ({@code page->index}). */
    public long index(int pfn) {
        return index[pfn];
    }

    public void setIndex(int pfn, long fileIndex) {
        index[pfn] = fileIndex;
    }

    /**
     * Takes a reference only if the frame is still allocated with generation {@code expectedGeneration}
     * ({@code get_page_unless_zero} plus a check that it was not reused). For agents that found the frame without
     * holding a reference (reclaim scanning).
     */
    public boolean tryGet(int pfn, int expectedGeneration) {
        while (true) {
            int r = refcount.get(pfn);
            if (r <= 0) {
                return false;
            }
            if (refcount.compareAndSet(pfn, r, r + 1)) {
                if (generation.get(pfn) == expectedGeneration) {
                    return true;
                }
                put(pfn);
                return false;
            }
        }
    }

    public boolean hasFlag(int pfn, int flag) {
        return (flags.get(pfn) & flag) != 0;
    }

    public void setFlag(int pfn, int flag) {
        int f;
        do {
            f = flags.get(pfn);
        } while ((f & flag) != flag && !flags.compareAndSet(pfn, f, f | flag));
    }

    public void clearFlag(int pfn, int flag) {
        int f;
        do {
            f = flags.get(pfn);
        } while ((f & flag) != 0 && !flags.compareAndSet(pfn, f, f & ~flag));
    }

    /** Reads word {@code wordIndex} (0..511) of a frame. */
    public long read(int pfn, int wordIndex) {
        return mode == ContentMode.FULL ? data[pfn][wordIndex] : tags[pfn];
    }

    /** Writes word {@code wordIndex} (0..511) of a frame. In tagged mode the whole frame takes the value. */
    public void write(int pfn, int wordIndex, long value) {
        if (mode == ContentMode.FULL) {
            data[pfn][wordIndex] = value;
        } else {
            tags[pfn] = value;
        }
    }

    /**
     * The frame's word array for a hit path that caches it next to the translation (FULL mode only; null in
     * TAGGED mode). Valid only while the caller's translation is.
     */
    public long[] words(int pfn) {
        return mode == ContentMode.FULL ? data[pfn] : null;
    }

    /** Copies a whole frame ({@code copy_user_highpage}). */
    public void copy(int fromPfn, int toPfn) {
        if (mode == ContentMode.FULL) {
            System.arraycopy(data[fromPfn], 0, data[toPfn], 0, WORDS_PER_PAGE);
        } else {
            tags[toPfn] = tags[fromPfn];
        }
    }

    /** Snapshot of a frame's contents (for swap and file write-back). */
    public long[] snapshot(int pfn) {
        if (mode == ContentMode.FULL) {
            return data[pfn].clone();
        }
        return new long[] {tags[pfn]};
    }

    /** Restores contents saved by {@link #snapshot}. */
    public void restore(int pfn, long[] saved) {
        if (mode == ContentMode.FULL) {
            if (saved.length == WORDS_PER_PAGE) {
                System.arraycopy(saved, 0, data[pfn], 0, WORDS_PER_PAGE);
            } else {
                java.util.Arrays.fill(data[pfn], saved[0]);
            }
        } else {
            tags[pfn] = saved.length == 0 ? 0 : saved[0];
        }
    }

    /** Whether frame {@code pfn} holds exactly what {@link #snapshot} saved in {@code saved}; allocates nothing. */
    public boolean sameContents(int pfn, long[] saved) {
        if (mode == ContentMode.FULL) {
            return java.util.Arrays.equals(data[pfn], saved);
        }
        return saved.length == 1 && tags[pfn] == saved[0];
    }

    public boolean sameContents(int a, int b) {
        if (mode == ContentMode.FULL) {
            return java.util.Arrays.equals(data[a], data[b]);
        }
        return tags[a] == tags[b];
    }

    private int popFree() {
        while (true) {
            long head = freeHead.get();
            int pfn = (int) head - 1;
            if (pfn < 0) {
                return NO_FRAME;
            }
            int next = nextFree[pfn];
            long stamp = (head >>> 32) + 1;
            if (freeHead.compareAndSet(head, (stamp << 32) | ((next + 1) & 0xFFFF_FFFFL))) {
                freeCount.decrementAndGet();
                return pfn;
            }
        }
    }

    private void pushFree(int pfn) {
        while (true) {
            long head = freeHead.get();
            nextFree[pfn] = (int) head - 1;
            long stamp = (head >>> 32) + 1;
            if (freeHead.compareAndSet(head, (stamp << 32) | ((pfn + 1) & 0xFFFF_FFFFL))) {
                freeCount.incrementAndGet();
                return;
            }
        }
    }
}
