package io.shadowmmu.kvm;

/**
 * Counters of one VM's MMU.
 *
 * @param faults                 vCPU exits for a missing or read-only entry
 * @param retries                fault attempts discarded because an invalidation ran meanwhile
 * @param installs               entries installed
 * @param invalidations          host invalidations received
 * @param invalidationsHitLive   of those, the ones that zapped at least one live entry
 * @param zapped                 entries zapped by host invalidations
 * @param flushes                remote TLB flush rounds
 * @param flushRequestsCoalesced invalidations whose flush rode on a round already in flight or queued
 * @param guestPageFaults        shadow faults handed to the guest OS
 * @param guestFaults            accesses with no backing (outside memory, refused)
 * @param ptWritesTrapped        guest kernel stores to shadowed page tables
 * @param fences                 times the host fenced this VM
 */
public record KvmStats(long faults, long retries, long installs, long invalidations, long invalidationsHitLive,
                       long zapped, long flushes, long flushRequestsCoalesced, long guestPageFaults, long guestFaults,
                       long ptWritesTrapped, long fences) {
}
