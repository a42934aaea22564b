package io.shadowmmu.guest.os;

import io.shadowmmu.hostmm.pagetable.Pte;

import java.util.HashMap;
import java.util.Map;

/**
 * One guest process's page table. The authoritative tables are pages of guest physical memory, which the hardware
 * (and KVM in shadow mode) walk; every change here is emitted as {@link GuestWrites} for the VM to store there.
 * The kernel keeps its own mirror of the tables it wrote (as a real kernel reads its tables through its direct
 * map), so it can plan updates without a round trip to guest memory.
 */
public final class GuestPageTable {
    private final long rootGfn;
    private final Map<Long, long[]> tables = new HashMap<>();
    private long mappedPages;

    /** The result of {@link #unmap}: the gfn that was mapped, or -1. */
    public static final long NOT_MAPPED = -1;

    private GuestPageTable(long rootGfn) {
        this.rootGfn = rootGfn;
        tables.put(rootGfn, new long[GuestLayout.ENTRIES]);
    }

    /**
     * A new empty table rooted in a newly allocated guest frame (cleared through {@code writes} if the frame was
     * used before), or null when the guest is out of memory.
     */
    public static GuestPageTable create(GuestFrameAllocator allocator, GuestWrites writes) {
        long root = allocator.allocate();
        if (root == GuestFrameAllocator.NO_FRAME) {
            return null;
        }
        clearIfReused(root, allocator, writes);
        return new GuestPageTable(root);
    }

    /** Guest physical address of the root table (the value of CR3). */
    public long cr3() {
        return rootGfn << GuestLayout.PAGE_SHIFT;
    }

    public long rootGfn() {
        return rootGfn;
    }

    public long mappedPages() {
        return mappedPages;
    }

    /** Guest frames holding this table's pages (root included). */
    public int tablePages() {
        return tables.size();
    }

    /** The leaf entry for {@code gva} from the kernel's mirror, or {@link Pte#NONE}. */
    public long lookup(long gva) {
        long table = rootGfn;
        for (int level = GuestLayout.LEVELS - 1; level > 0; level--) {
            long e = tables.get(table)[GuestLayout.index(gva, level)];
            if (!Pte.isPresent(e)) {
                return Pte.NONE;
            }
            table = Pte.pfn(e);
        }
        return tables.get(table)[GuestLayout.index(gva, 0)];
    }

    /**
     * Maps the page of {@code gva} to guest frame {@code gfn}, allocating intermediate tables as needed.
     *
     * @return false if a table page could not be allocated (guest out of memory); nothing is half-done then
     *         except tables already linked, which stay valid and empty
     */
    public boolean map(long gva, long gfn, boolean writable, GuestFrameAllocator allocator, GuestWrites writes) {
        long table = rootGfn;
        for (int level = GuestLayout.LEVELS - 1; level > 0; level--) {
            long[] t = tables.get(table);
            int i = GuestLayout.index(gva, level);
            if (!Pte.isPresent(t[i])) {
                long child = allocator.allocate();
                if (child == GuestFrameAllocator.NO_FRAME) {
                    return false;
                }
                clearIfReused(child, allocator, writes);
                tables.put(child, new long[GuestLayout.ENTRIES]);
                t[i] = Pte.make((int) child, true);
                writes.add(GuestLayout.entryGpa(table, i), t[i]);
            }
            table = Pte.pfn(t[i]);
        }
        long[] leaf = tables.get(table);
        int i = GuestLayout.index(gva, 0);
        if (!Pte.isPresent(leaf[i])) {
            mappedPages++;
        }
        leaf[i] = Pte.make((int) gfn, writable);
        writes.add(GuestLayout.entryGpa(table, i), leaf[i]);
        return true;
    }

    /** Clears the leaf entry of {@code gva}; returns the gfn it mapped, or {@link #NOT_MAPPED}. */
    public long unmap(long gva, GuestWrites writes) {
        long leafGfn = leafTable(gva);
        if (leafGfn < 0) {
            return NOT_MAPPED;
        }
        long[] leaf = tables.get(leafGfn);
        int i = GuestLayout.index(gva, 0);
        long old = leaf[i];
        if (!Pte.isPresent(old)) {
            return NOT_MAPPED;
        }
        leaf[i] = Pte.NONE;
        mappedPages--;
        writes.add(GuestLayout.entryGpa(leafGfn, i), Pte.NONE);
        return Pte.pfn(old);
    }

    /** Changes the writability of a mapped page; false if it is not mapped. */
    public boolean protect(long gva, boolean writable, GuestWrites writes) {
        long leafGfn = leafTable(gva);
        if (leafGfn < 0) {
            return false;
        }
        long[] leaf = tables.get(leafGfn);
        int i = GuestLayout.index(gva, 0);
        if (!Pte.isPresent(leaf[i])) {
            return false;
        }
        leaf[i] = Pte.make(Pte.pfn(leaf[i]), writable);
        writes.add(GuestLayout.entryGpa(leafGfn, i), leaf[i]);
        return true;
    }

    /**
     * Writes the whole path of {@code gva} (every level's entry, from the kernel's mirror) to guest memory again.
     * Used when the hardware reports a fault on an entry the kernel knows is present: guest memory lost the
     * page-table contents (the host discarded it), and rewriting lets the guest go on instead of faulting forever.
     */
    public void rewritePath(long gva, GuestWrites writes) {
        long table = rootGfn;
        for (int level = GuestLayout.LEVELS - 1; level >= 0; level--) {
            long[] t = tables.get(table);
            int i = GuestLayout.index(gva, level);
            if (!Pte.isPresent(t[i])) {
                return;
            }
            writes.add(GuestLayout.entryGpa(table, i), t[i]);
            table = Pte.pfn(t[i]);
        }
    }

    /** Frees every table page (process exit); data pages are the caller's. */
    public void releaseTables(GuestFrameAllocator allocator) {
        for (long gfn : tables.keySet()) {
            allocator.release(gfn);
        }
        tables.clear();
    }

    private long leafTable(long gva) {
        long table = rootGfn;
        for (int level = GuestLayout.LEVELS - 1; level > 0; level--) {
            long e = tables.get(table)[GuestLayout.index(gva, level)];
            if (!Pte.isPresent(e)) {
                return -1;
            }
            table = Pte.pfn(e);
        }
        return table;
    }

    private static void clearIfReused(long gfn, GuestFrameAllocator allocator, GuestWrites writes) {
        // A reused guest frame still holds old words; a new table must start empty in guest memory too.
        if (!allocator.reused(gfn)) {
            return;
        }
        for (int i = 0; i < GuestLayout.ENTRIES; i++) {
            writes.add(GuestLayout.entryGpa(gfn, i), Pte.NONE);
        }
    }
}
