package io.shadowmmu.hostmm.vma;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The VMAs of one mm, ordered by start address ({@code mm->mm_mt}). Owned by one actor; not thread-safe. */
public final class VmaTree {
    /** Where mmap places mappings when the caller lets it choose ({@code mmap_base}, growing up here). */
    public static final long MMAP_BASE = 0x1000_0000L;
    private static final long HUGE_ALIGN = 2L << 20;

    private final TreeMap<Long, Vma> byStart = new TreeMap<>();
    /**
     * The VMA the last successful lookup found ({@code vmacache}): faults come in runs on one mapping, and the hit
     * skips the tree and the boxing of its key. Every change to the tree forgets it.
     */
    private Vma lastFound;

    public Vma find(long va) {
        Vma cached = lastFound;
        if (cached != null && cached.contains(va)) {
            return cached;
        }
        Map.Entry<Long, Vma> e = byStart.floorEntry(va);
        if (e == null || !e.getValue().contains(va)) {
            return null;
        }
        lastFound = e.getValue();
        return lastFound;
    }

    public boolean isFree(long start, long end) {
        return overlapping(start, end).isEmpty();
    }

    /** VMAs overlapping {@code [start, end)}, in address order. */
    public List<Vma> overlapping(long start, long end) {
        List<Vma> out = new ArrayList<>();
        Map.Entry<Long, Vma> first = byStart.floorEntry(start);
        Long from = first != null && first.getValue().end() > start ? first.getKey() : byStart.ceilingKey(start);
        if (from == null) {
            return out;
        }
        for (Vma v : byStart.tailMap(from, true).values()) {
            if (v.start() >= end) {
                break;
            }
            out.add(v);
        }
        return out;
    }

    public void insert(Vma vma) {
        if (!isFree(vma.start(), vma.end())) {
            throw new IllegalStateException("overlapping insert " + vma);
        }
        lastFound = null;
        byStart.put(vma.start(), vma);
    }

    /** Removes {@code [start, end)}, splitting VMAs at the edges. Returns the removed pieces. */
    public List<Vma> remove(long start, long end) {
        lastFound = null;
        List<Vma> removed = new ArrayList<>();
        for (Vma v : overlapping(start, end)) {
            byStart.remove(v.start());
            if (v.start() < start) {
                byStart.put(v.start(), v.slice(v.start(), start));
            }
            if (v.end() > end) {
                Vma tail = v.slice(end, v.end());
                byStart.put(tail.start(), tail);
            }
            removed.add(v.slice(start, end));
        }
        return removed;
    }

    /** Changes the protection of {@code [start, end)}, splitting at the edges. Returns the pieces as they were. */
    public List<Vma> protect(long start, long end, Protection prot) {
        List<Vma> old = remove(start, end);
        lastFound = null;
        for (Vma v : old) {
            byStart.put(v.start(), v.withProt(prot));
        }
        return old;
    }

    /** True when every byte of {@code [start, end)} is mapped. */
    public boolean fullyMapped(long start, long end) {
        long next = start;
        for (Vma v : overlapping(start, end)) {
            if (v.start() > next) {
                return false;
            }
            next = v.end();
        }
        return next >= end;
    }

    /** A free, page-aligned place for {@code length} bytes above the highest mapping (2 MiB aligned when large). */
    public long findFree(long length) {
        long top = byStart.isEmpty() ? MMAP_BASE : Math.max(MMAP_BASE, byStart.lastEntry().getValue().end());
        if (length >= HUGE_ALIGN) {
            top = (top + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
        }
        return top;
    }

    /** The VMAs in address order, read-only (a change goes through this tree so the lookup cache stays true). */
    public Collection<Vma> all() {
        return java.util.Collections.unmodifiableCollection(byStart.values());
    }

    public int size() {
        return byStart.size();
    }

    public void clear() {
        lastFound = null;
        byStart.clear();
    }
}
