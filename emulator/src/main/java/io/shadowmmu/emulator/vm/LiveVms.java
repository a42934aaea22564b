package io.shadowmmu.emulator.vm;

import io.shadowmmu.guest.vm.VmStats;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * What a VM run shows while it runs: the coordinator polls its VMs a few times a second and publishes their latest
 * counters here, for the CLI's progress display and time series (read on another thread, hence atomics).
 */
public final class LiveVms {
    private final AtomicLong accesses = new AtomicLong();
    private final AtomicReferenceArray<VmStats> latest;

    public LiveVms(int vms) {
        this.latest = new AtomicReferenceArray<>(vms);
    }

    void publish(VmStats stats, int vm) {
        latest.set(vm, stats);
        long sum = 0;
        for (int i = 0; i < latest.length(); i++) {
            VmStats s = latest.get(i);
            sum += s == null ? 0 : s.accesses();
        }
        accesses.set(sum);
    }

    /** Guest accesses of every VM so far. */
    public long accesses() {
        return accesses.get();
    }

    public int vms() {
        return latest.length();
    }

    /** The latest counters of VM {@code i}, or null before its first poll. */
    public VmStats vm(int i) {
        return latest.get(i);
    }

    public long tlbHits(int i) {
        VmStats s = latest.get(i);
        return s == null ? 0 : s.tlbHits();
    }

    public long tlbLookups(int i) {
        VmStats s = latest.get(i);
        return s == null ? 0 : s.tlbHits() + s.tlbMisses();
    }

    /** Second-level (KVM) faults of every VM so far. */
    public long faults() {
        long sum = 0;
        for (int i = 0; i < latest.length(); i++) {
            VmStats s = latest.get(i);
            sum += s == null ? 0 : s.faults();
        }
        return sum;
    }
}
