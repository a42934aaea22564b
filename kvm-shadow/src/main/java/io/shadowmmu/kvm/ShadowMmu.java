package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Shadow paging ({@code arch/x86/kvm/mmu/mmu.c}): one table per guest CR3 from guest virtual address to host frame,
 * built by walking the guest's own page tables. It keeps a reverse map from gfn to the shadow entries mapping it (so
 * host invalidations, which name gfns, find them) and write-protects every guest page-table page it read, so that
 * the guest kernel's stores to them trap and stale shadow entries are zapped.
 */
final class ShadowMmu implements PagingMmu {
    private static final long PAGE = Memslot.PAGE;

    private final Map<Long, PageTable> roots;
    private final GuestWalk walk;
    private final Zaps zaps;
    private final RemoteFlush flush;
    /** gfn to the shadow entries mapping it, {cr3, gva} ({@code rmap}). */
    private final TreeMap<Long, List<long[]>> rmap = new TreeMap<>();
    /** Guest page-table pages walked (write-protected), gfn to {cr3, blockBase, level} they translate. */
    private final Map<Long, Set<List<Long>>> guestTables = new HashMap<>();

    ShadowMmu(KvmView view, GuestWalk walk, Zaps zaps, RemoteFlush flush) {
        this.roots = view.shadowRoots;
        this.walk = walk;
        this.zaps = zaps;
        this.flush = flush;
    }

    @Override
    public boolean resolve(Fault f, PageTableWalker host, FaultExits exits) {
        return walk.walk(f, host, exits);
    }

    @Override
    public boolean install(Fault f, int pfn, int generation, boolean hostWritable) {
        if (f.write && f.guestWritable && guestTables.containsKey(f.gfn)) {
            unprotect(f.gfn);
        }
        boolean writable = hostWritable && f.guestWritable
                && !guestTables.containsKey(f.gfn); // shadowed page tables stay write-protected
        long spte = Spte.make(pfn, generation, writable);
        long key = f.address & ~(PAGE - 1);
        PageTable table = roots.computeIfAbsent(f.cr3, k -> new PageTable());
        addRmap(f.gfn, f.cr3, key);
        for (long[] t : f.tables) {
            if (!guestTables.containsKey(t[0])) {
                writeProtectGfn(t[0]); // newly shadowed: its writable mappings must trap from now on
            }
            guestTables.computeIfAbsent(t[0], k -> new HashSet<>()).add(List.of(f.cr3, t[1], t[2]));
        }
        zaps.installed(table, f.cr3, key, spte, table.getAndSet(key, spte));
        return writable;
    }

    @Override
    public void zapGfns(Memslot slot, long firstGfn, long endGfn, List<Range> dirty) {
        for (Map.Entry<Long, List<long[]>> e : List.copyOf(rmap.subMap(firstGfn, endGfn).entrySet())) {
            long hva = slot.hvaOf(e.getKey());
            for (long[] m : e.getValue()) {
                PageTable root = roots.get(m[0]);
                if (root != null) {
                    zaps.zapped(root.getAndClear(m[1]), m[0], m[1], hva, dirty);
                }
            }
            rmap.remove(e.getKey());
        }
    }

    @Override
    public void zapAll() {
        for (Long cr3 : roots.keySet()) {
            zapRange(cr3, 0, PageTable.VA_LIMIT);
        }
        rmap.clear();
        guestTables.clear();
    }

    @Override
    public boolean young(long gfn, boolean clear) {
        boolean young = false;
        for (long[] m : rmap.getOrDefault(gfn, List.of())) {
            PageTable root = roots.get(m[0]);
            young |= root != null && Zaps.young(root, m[1], clear);
        }
        return young;
    }

    @Override
    public void writeProtect(Memslot slot) {
        long first = slot.baseGfn();
        for (List<long[]> entries : rmap.subMap(first, first + slot.pages()).values()) {
            for (long[] m : entries) {
                PageTable root = roots.get(m[0]);
                if (root != null) {
                    root.clearBits(m[1], Spte.WRITABLE);
                }
            }
        }
    }

    /** {@code kvm_mmu_pte_write}: a store to a guest page table zaps the shadow entries the changed entry covered. */
    @Override
    public boolean trapGuestStore(long gpa) {
        Set<List<Long>> uses = guestTables.get(gpa >>> 12);
        if (uses == null) {
            return false;
        }
        int index = (int) ((gpa & (PAGE - 1)) >>> 3);
        for (List<Long> use : uses) {
            long span = PAGE << (9 * use.get(2));
            long start = use.get(1) + index * span;
            zapRange(use.get(0), start, start + span);
        }
        return true;
    }

    /**
     * {@code kvm_mmu_unprotect_page}: the guest writes to a page KVM shadows as a page table through its own mapping,
     * so it no longer uses it as one (a freed table reused as data). Drop every shadow entry built from it and stop
     * write-protecting it; a later walk through it shadows it again.
     */
    private void unprotect(long gfn) {
        for (List<Long> use : guestTables.remove(gfn)) {
            long span = PAGE << (9 * (use.get(2) + 1));
            zapRange(use.get(0), use.get(1), use.get(1) + span);
        }
        flush.request(() -> { });
    }

    private void writeProtectGfn(long gfn) {
        for (long[] m : rmap.getOrDefault(gfn, List.of())) {
            PageTable root = roots.get(m[0]);
            if (root != null && Spte.writable(root.get(m[1]))) {
                root.clearBits(m[1], Spte.WRITABLE);
                zaps.writeProtected();
            }
        }
    }

    /** Zaps the shadow entries of {@code [start, end)} under {@code cr3}; dirty ones keep their frame's bit. */
    private void zapRange(long cr3, long start, long end) {
        PageTable root = roots.get(cr3);
        if (root == null) {
            return;
        }
        root.forEachEntry(start, end, (gva, spte) -> zaps.zapped(root.getAndClear(gva), cr3, gva, 0, null));
    }

    /** {@code pte_list_add}: one record per shadow entry, however often it is re-installed. */
    private void addRmap(long gfn, long cr3, long gva) {
        List<long[]> entries = rmap.computeIfAbsent(gfn, k -> new ArrayList<>(1));
        for (long[] m : entries) {
            if (m[0] == cr3 && m[1] == gva) {
                return;
            }
        }
        entries.add(new long[] {cr3, gva});
    }
}
