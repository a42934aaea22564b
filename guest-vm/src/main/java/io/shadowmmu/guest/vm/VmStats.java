package io.shadowmmu.guest.vm;

import io.shadowmmu.guest.vcpu.VcpuStats;

import java.util.List;

/**
 * A VM's results: its vCPUs' counters summed and one by one, and the guest kernel's.
 *
 * @param guestKernelFaults page faults the guest kernel handled
 * @param guestSegfaults    accesses outside every guest mapping
 * @param guestPageTableRepairs faults on page-table entries guest memory had lost (the host discarded guest RAM
 *                          the guest was using); non-zero means the scenario destroyed guest data
 */
public record VmStats(String name, VcpuStats total, List<VcpuStats> vcpus, long guestKernelFaults,
                      long guestSegfaults, long guestPageTableRepairs, long guestFramesFree,
                      long guestFramesTotal) {
    public long accesses() {
        return total.accesses();
    }

    public long tlbHits() {
        return total.tlb().hits();
    }

    public long tlbMisses() {
        return total.tlb().misses();
    }

    /** Second-level faults: exits to KVM. */
    public long faults() {
        return total.exits();
    }

    public long retries() {
        return total.retries();
    }

    /** Remote TLB flushes the vCPUs served. */
    public long flushes() {
        return total.flushRequests();
    }

    public long i1Violations() {
        return total.i1Violations();
    }
}
