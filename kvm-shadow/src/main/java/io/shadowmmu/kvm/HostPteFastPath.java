package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.pagetable.PageTableWalker;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

/**
 * The lockless half of {@code hva_to_pfn} ({@code get_user_page_fast_only}): reads the host PTE of a faulting hva
 * straight from the page table the host published at registration, without a message to the host mm. Only a present
 * entry with the permission the fault needs qualifies; anything else (none, swapped, migrating, PROT_NONE, a write to
 * a copy-on-write or read-only entry) is left to the host's fault handler.
 *
 * <p>Why KVM may install from it (DECISIONS.md): the host never frees or reuses a frame a PTE maps before every
 * subscriber acknowledged an invalidation start covering it, and KVM installs in the same handler that reads the
 * PTE. An invalidation KVM has started and not ended is seen by {@link io.shadowmmu.hostmm.notifier.IntervalNotifier}
 * (the caller checks it first); one whose start is still on its way zaps the new spte when it arrives, before KVM
 * acknowledges it; one that ended had changed the PTE before its end was sent, so the volatile read sees the change.
 */
final class HostPteFastPath {
    private HostPteFastPath() {
    }

    /** Host frame, generation and writability read without the host; null: take the host round trip. */
    record Page(int pfn, int generation, boolean writable) {
    }

    /** A changed entry is read again this many times before falling back to the host. */
    private static final int ATTEMPTS = 3;

    static Page lookup(PageTableWalker host, PhysicalMemory memory, long hva, boolean write) {
        if (host == null) {
            return null;
        }
        long page = hva & ~(PhysicalMemory.PAGE_SIZE - 1);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            long pte = host.get(page);
            if (!Pte.isPresent(pte) || (write && !Pte.isWritable(pte))) {
                return null;
            }
            // Accessed (dirty for a write) as the host's fault path would leave it; a changed entry is read again.
            long bits = Pte.ACCESSED | (write ? Pte.DIRTY : 0);
            if ((pte & bits) != bits) {
                if (!host.setHardwareBits(page, pte, bits)) {
                    continue;
                }
                pte |= bits;
            }
            int pfn = Pte.pfn(pte);
            int generation = memory.generation(pfn);
            if (host.get(page) != pte) {
                continue; // the entry changed while the frame's generation was read
            }
            return new Page(pfn, generation, Pte.isWritable(pte));
        }
        return null;
    }
}
