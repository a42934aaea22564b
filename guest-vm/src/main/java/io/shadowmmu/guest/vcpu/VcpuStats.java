package io.shadowmmu.guest.vcpu;

import io.shadowmmu.guest.tlb.TlbStats;

/**
 * What one vCPU did.
 *
 * @param accesses      accesses completed (a page-spanning trace access counts once per page)
 * @param fetches       of which instruction fetches
 * @param tlb           the data TLB (loads, stores, modifies)
 * @param itlb          the instruction TLB (fetches)
 * @param writes        of which writes
 * @param exits         VM exits to KVM (second-level faults)
 * @param retries       exits whose reply did not let the access proceed (KVM retried, or an invalidation raced)
 * @param guestPageFaults faults handled by the guest kernel (demand paging)
 * @param guestFaults   accesses the guest could not make (outside guest memory, segfault, host refusal)
 * @param flushRequests remote TLB flushes served
 * @param i1Violations  reads that did not return the last value written
 * @param i3Violations  TLB hits on a frame that had been freed and reused
 * @param fencedSlices  slices that found the access grant revoked
 */
public record VcpuStats(int vcpu, long accesses, long fetches, long writes, TlbStats tlb, TlbStats itlb, long exits, long retries,
                        long guestPageFaults, long guestFaults, long flushRequests, long i1Checks, long i1Violations,
                        long i3Violations, long slices, long fencedSlices) {

    public VcpuStats plus(VcpuStats o) {
        return new VcpuStats(-1, accesses + o.accesses, fetches + o.fetches, writes + o.writes, tlb.plus(o.tlb), itlb.plus(o.itlb),
                exits + o.exits, retries + o.retries, guestPageFaults + o.guestPageFaults,
                guestFaults + o.guestFaults, flushRequests + o.flushRequests, i1Checks + o.i1Checks,
                i1Violations + o.i1Violations, i3Violations + o.i3Violations, slices + o.slices,
                fencedSlices + o.fencedSlices);
    }

    public static VcpuStats empty(int vcpu) {
        return new VcpuStats(vcpu, 0, 0, 0, TlbStats.ZERO, TlbStats.ZERO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }
}
