package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.pagetable.PageTableWalker;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * Shadow mode's walk of the guest's own page tables ({@code paging_tmpl.h}'s {@code walk_addr}): four levels in guest
 * memory, each word read through the host page table as the hardware would (D18).
 */
final class GuestWalk {
    private static final long PAGE = Memslot.PAGE;
    private static final long NEEDS_PAGE_IN = Long.MIN_VALUE + 1;
    private static final long UNREADABLE = Long.MIN_VALUE + 2;

    private final Memslots slots;
    private final PhysicalMemory memory;

    GuestWalk(Memslots slots, PhysicalMemory memory) {
        this.slots = slots;
        this.memory = memory;
    }

    /**
     * Sets {@code f.gfn}, {@code f.guestWritable} and {@code f.tables} from the walk under {@code f.cr3}. False when
     * the fault ended on {@code exits}: a guest page fault, a table outside guest memory, or a page-in.
     */
    boolean walk(Fault f, PageTableWalker host, FaultExits exits) {
        long tableGpa = f.cr3;
        boolean writable = true;
        List<long[]> tables = new ArrayList<>(4);
        for (int level = 3; level >= 0; level--) {
            int index = (int) ((f.address >>> (12 + 9 * level)) & 511);
            long tableGfn = tableGpa >>> 12;
            long blockSize = PAGE << (9 * (level + 1));
            tables.add(new long[] {tableGfn, f.address & ~(blockSize - 1), level});
            long entry = readWord(f, (tableGfn << 12) + index * 8L, host, exits);
            if (entry == NEEDS_PAGE_IN || entry == UNREADABLE) {
                return false;
            }
            if (!Pte.isPresent(entry)) {
                exits.guestPageFault(f, "no guest mapping at level " + level);
                return false;
            }
            writable &= Pte.isWritable(entry);
            tableGpa = (long) Pte.pfn(entry) << 12;
        }
        if (f.write && !writable) {
            exits.guestPageFault(f, "guest mapping is read-only");
            return false;
        }
        f.gfn = tableGpa >>> 12;
        f.guestWritable = writable;
        f.tables = tables;
        return true;
    }

    /** Reads one word of guest memory through the host page table, seqlock style; pages it in when absent. */
    private long readWord(Fault f, long gpa, PageTableWalker host, FaultExits exits) {
        Memslot slot = slots.ofGfn(gpa >>> 12);
        if (slot == null) {
            exits.guestFault(f, "guest page table at gpa 0x" + Long.toHexString(gpa) + " is outside guest memory");
            return UNREADABLE;
        }
        long hva = slot.hvaOf(gpa >>> 12);
        for (int attempt = 0; attempt < 8; attempt++) {
            long pte = host.get(hva);
            if (!Pte.isPresent(pte)) {
                break;
            }
            long value = memory.read(Pte.pfn(pte), (int) ((gpa & (PAGE - 1)) >>> 3));
            if (host.get(hva) == pte) {
                return value; // the frame was mapped all along: the value is from the right page
            }
        }
        exits.pageIn(f, hva); // absent, or remapped under every attempt: let the host settle it
        return NEEDS_PAGE_IN;
    }
}
