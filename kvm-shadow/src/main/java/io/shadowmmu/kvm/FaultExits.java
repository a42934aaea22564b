package io.shadowmmu.kvm;

/** How a {@link PagingMmu} ends a fault it cannot resolve itself; {@link KvmMmu} answers the vCPU or the host. */
interface FaultExits {
    /** No backing for the access: the vCPU gets {@link KvmCommand.GuestFault}. */
    void guestFault(Fault f, String why);

    /** Shadow mode: the guest's own page table refuses it; the vCPU gets {@link KvmCommand.GuestPageFault}. */
    void guestPageFault(Fault f, String why);

    /** A guest page-table page at {@code hva} is not in the host: fault it in, then resolve {@code f} again. */
    void pageIn(Fault f, long hva);
}
