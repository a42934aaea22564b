package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.List;

/**
 * The tables one VM's vCPUs walk, and what differs between the two ways of building them: {@link TdpMmu} maps gpa to
 * host frame ({@code arch/x86/kvm/mmu/tdp_mmu.c}), {@link ShadowMmu} maps guest virtual to host frame under each
 * guest CR3 ({@code arch/x86/kvm/mmu/mmu.c}, {@code paging_tmpl.h}). {@link KvmMmu} owns what both share: the fault
 * state machine, the host notifier subscription, remote flushes and dirty logging. Every removal goes through
 * {@link Zaps}, so both keep the oracle, the flush accounting and dirty bits the same way.
 */
interface PagingMmu {

    /**
     * Resolves {@code f.gfn} (and {@code f.guestWritable}, {@code f.tables}) from the fault's address: TDP takes the
     * gpa, shadow walks the guest's own page tables through the host page table {@code host}. False when the fault
     * ended on {@code exits} instead (a guest fault, or a page-in the fault waits for).
     */
    boolean resolve(Fault f, PageTableWalker host, FaultExits exits);

    /**
     * Installs the spte for resolved fault {@code f} on host frame {@code pfn} of {@code generation}.
     *
     * @param hostWritable the host, the memslot and dirty logging allow a writable entry
     * @return whether the entry was installed writable
     */
    boolean install(Fault f, int pfn, int generation, boolean hostWritable);

    /**
     * Zaps every spte of guest frames {@code [firstGfn, endGfn)} of {@code slot}; a dirty one becomes a page range of
     * host addresses in {@code dirty} (the ack's dirty report), or marks its frame dirty when {@code dirty} is null.
     */
    void zapGfns(Memslot slot, long firstGfn, long endGfn, List<Range> dirty);

    /** Zaps every spte (release, fence): nothing is reported, dirty frames keep their bit. */
    void zapAll();

    /** Was {@code gfn} accessed through an spte since the last clear ({@code kvm_age_gfn} / {@code kvm_test_age_gfn})? */
    boolean young(long gfn, boolean clear);

    /** Makes every spte of {@code slot} read-only (dirty logging: the next write faults and is logged). */
    void writeProtect(Memslot slot);

    /**
     * The guest kernel stored to {@code gpa}. Shadow mode: if that is a guest page-table page it shadows, zap the
     * shadow entries the changed guest entry covered and answer true (the caller flushes). TDP: false.
     */
    boolean trapGuestStore(long gpa);
}
