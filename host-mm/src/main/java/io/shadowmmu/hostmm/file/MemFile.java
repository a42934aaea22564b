package io.shadowmmu.hostmm.file;

import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A simple in-memory file with a page cache ({@code struct address_space}), shared by every mm that maps it.
 *
 * <p>Thread-safe because several mm actors fault its pages concurrently. Page-cache slots are updated with
 * {@link ConcurrentHashMap#compute}, which serialises a fault and a truncate of the same page: a fault either takes
 * its reference before the truncate removes the page (and the truncate then unmaps it from that mm), or sees the new
 * size and fails with SIGBUS. Contents of pages not in the cache live in a backing store (the "disk").
 */
public final class MemFile {
    private static final AtomicLong NEXT_ID = new AtomicLong(1);

    /** Result of {@link #getPage}: a pfn (with a reference taken for the caller) or why not. */
    public static final int BEYOND_EOF = -2;
    public static final int OUT_OF_MEMORY = -3;

    /** Handle of a mapper that exists but cannot take messages yet (a forked child being created). */
    public static final Object PENDING_MAPPER = new Object();

    private final long id;
    private final String name;
    private final boolean anonymous;
    private final PhysicalMemory memory;
    private volatile long sizeBytes;
    private final ConcurrentHashMap<Long, Integer> pageCache = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, long[]> backingStore = new ConcurrentHashMap<>();
    /** i_mmap: who maps this file, so truncate can reach every mm. Keyed by mm id. */
    private final ConcurrentHashMap<Long, Object> mappers = new ConcurrentHashMap<>();

    public MemFile(String name, long sizeBytes, PhysicalMemory memory) {
        this(name, sizeBytes, memory, false);
    }

    /**
     * @param anonymous an unnamed shmem object behind MAP_SHARED|MAP_ANONYMOUS: its pages go when its last mapper
     *                  detaches
     */
    public MemFile(String name, long sizeBytes, PhysicalMemory memory, boolean anonymous) {
        this.id = NEXT_ID.getAndIncrement() | (1L << 40); // file owners are told apart from mm ids in stories
        this.name = name;
        this.anonymous = anonymous;
        this.sizeBytes = sizeBytes;
        this.memory = memory;
    }

    public long id() {
        return id;
    }

    public String name() {
        return name;
    }

    public boolean anonymous() {
        return anonymous;
    }

    public long size() {
        return sizeBytes;
    }

    public long pages() {
        return (sizeBytes + PhysicalMemory.PAGE_SIZE - 1) / PhysicalMemory.PAGE_SIZE;
    }

    /**
     * Finds or reads in page {@code index} and takes one reference for the caller ({@code filemap_fault} +
     * {@code get_page}).
     *
     * @return the pfn, {@link #BEYOND_EOF} or {@link #OUT_OF_MEMORY}
     */
    public int getPage(long index) {
        int[] result = {0};
        pageCache.compute(index, (k, pfn) -> {
            if (index >= pages()) {
                result[0] = BEYOND_EOF;
                return pfn;
            }
            if (pfn == null) {
                int fresh = memory.allocate(id, 0);
                if (fresh == PhysicalMemory.NO_FRAME) {
                    result[0] = OUT_OF_MEMORY;
                    return null;
                }
                long[] saved = backingStore.get(index);
                if (saved != null) {
                    memory.restore(fresh, saved);
                }
                memory.setIndex(fresh, index);
                pfn = fresh; // the page cache's own reference
            }
            memory.get(pfn);
            result[0] = pfn;
            return pfn;
        });
        return result[0];
    }

    /** The cached pfn of a page, or -1; takes no reference (for inspection only). */
    public int peek(long index) {
        Integer pfn = pageCache.get(index);
        return pfn == null ? -1 : pfn;
    }

    /**
     * Shrinks or grows the file. Pages at or beyond the new end leave the page cache and their contents are
     * discarded; the page cache's references are returned so the caller drops them once every mm has unmapped them.
     */
    public List<Integer> truncate(long newSizeBytes) {
        this.sizeBytes = newSizeBytes;
        long firstGone = (newSizeBytes + PhysicalMemory.PAGE_SIZE - 1) / PhysicalMemory.PAGE_SIZE;
        List<Integer> dropped = new ArrayList<>();
        for (Long index : new ArrayList<>(pageCache.keySet())) {
            if (index >= firstGone) {
                pageCache.compute(index, (k, pfn) -> {
                    if (pfn != null) {
                        dropped.add(pfn);
                    }
                    return null;
                });
            }
        }
        backingStore.keySet().removeIf(index -> index >= firstGone);
        return dropped;
    }

    /** Writes a dirty page's contents to the backing store ({@code writepage}). */
    public void writeBack(long index, int pfn) {
        backingStore.put(index, memory.snapshot(pfn));
        memory.clearFlag(pfn, PhysicalMemory.FLAG_DIRTY);
    }

    /**
     * Reclaim of one clean-or-written-back page: removes it from the cache only if nobody but the cache and the
     * caller ({@code expectedRefs} in all) holds it, so a fault racing the removal either got its reference first
     * (and the page stays) or finds the page gone and reads it back from the backing store.
     *
     * @return true when the page left the cache; the caller then drops the cache's reference
     */
    public boolean evictIfUnused(long index, int pfn, int expectedRefs) {
        boolean[] evicted = {false};
        pageCache.computeIfPresent(index, (k, cur) -> {
            if (cur != pfn || memory.refcount(pfn) != expectedRefs) {
                return cur;
            }
            boolean dirty = memory.hasFlag(pfn, PhysicalMemory.FLAG_DIRTY);
            if (dirty) {
                writeBack(index, pfn);
            }
            memory.events().pageCacheEvicted(pfn, memory.generation(pfn), dirty);
            evicted[0] = true;
            return null;
        });
        return evicted[0];
    }

    /** Drops every page-cache page (file deleted): returns the references for the caller to put. */
    public List<Integer> evictAll() {
        return truncate(0);
    }

    public int cachedPages() {
        return pageCache.size();
    }

    /** Page cache frames (for accounting audits). */
    public Map<Long, Integer> cacheView() {
        return java.util.Collections.unmodifiableMap(pageCache);
    }

    /** An mm maps this file ({@code i_mmap} insert). {@code handle} is how truncate reaches it. */
    public void attach(long mm, Object handle) {
        mappers.put(mm, handle);
    }

    /**
     * The mm maps this file no more. The last detach of an anonymous shmem object drops its pages, returning the
     * page cache's references for the caller to put.
     */
    public List<Integer> detach(long mm) {
        mappers.remove(mm);
        if (anonymous && mappers.isEmpty()) {
            return evictAll();
        }
        return List.of();
    }

    /** Mappers at this moment, mm id to handle ({@link #PENDING_MAPPER} for one that cannot take messages yet). */
    public Map<Long, Object> mappers() {
        return Map.copyOf(mappers);
    }

    @Override
    public String toString() {
        return "file " + name + " (" + sizeBytes + " bytes)";
    }
}
