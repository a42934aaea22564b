package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.List;

/**
 * Two-dimensional paging ({@code arch/x86/kvm/mmu/tdp_mmu.c}): one table from guest physical address to host frame,
 * keyed by gpa. The guest's own page tables are the vCPU's business; KVM never reads them.
 */
final class TdpMmu implements PagingMmu {
    /** The oracle's address space of TDP entries (shadow entries use their CR3). */
    private static final long SPACE = -1;

    private final PageTable table;
    private final long guestFrames;
    private final Zaps zaps;

    TdpMmu(KvmView view, Zaps zaps) {
        this.table = view.tdpTable;
        this.guestFrames = view.guestFrames();
        this.zaps = zaps;
    }

    @Override
    public boolean resolve(Fault f, PageTableWalker host, FaultExits exits) {
        f.gfn = f.address >>> 12;
        f.guestWritable = true;
        return true;
    }

    @Override
    public boolean install(Fault f, int pfn, int generation, boolean hostWritable) {
        long key = f.gfn << 12;
        long spte = Spte.make(pfn, generation, hostWritable);
        zaps.installed(table, SPACE, key, spte, table.getAndSet(key, spte));
        return hostWritable;
    }

    @Override
    public void zapGfns(Memslot slot, long firstGfn, long endGfn, List<Range> dirty) {
        table.forEachEntry(firstGfn << 12, endGfn << 12, (gpa, spte) ->
                zaps.zapped(table.getAndClear(gpa), SPACE, gpa, slot.hvaOf(gpa >>> 12), dirty));
    }

    @Override
    public void zapAll() {
        table.forEachEntry(0, guestFrames << 12, (gpa, spte) ->
                zaps.zapped(table.getAndClear(gpa), SPACE, gpa, 0, null));
    }

    @Override
    public boolean young(long gfn, boolean clear) {
        return Zaps.young(table, gfn << 12, clear);
    }

    @Override
    public void writeProtect(Memslot slot) {
        long first = slot.baseGfn();
        table.forEachEntry(first << 12, (first + slot.pages()) << 12, (gpa, spte) ->
                table.clearBits(gpa, Spte.WRITABLE));
    }

    @Override
    public boolean trapGuestStore(long gpa) {
        return false; // guest page tables are ordinary guest memory under TDP
    }
}
