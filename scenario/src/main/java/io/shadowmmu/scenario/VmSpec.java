package io.shadowmmu.scenario;

import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * One VM of a scenario: paging mode, guest size, and its guest processes with their workloads. Unset sizes come
 * from the {@code guest} settings.
 */
public final class VmSpec {
    /** Guest virtual base of a process's working set when none is given. */
    public static final long DEFAULT_BASE = 0x40_0000L;

    /**
     * One guest process.
     *
     * @param workload makes its workload from the scenario seed (called once, when the VM is up)
     */
    record Process(String name, List<GuestVma> vmas, LongFunction<Workload> workload) {
    }

    final String name;
    boolean tdp = true;
    Integer vcpus;
    Long memoryBytes;
    boolean sharedFileRam;
    final List<Process> processes = new ArrayList<>();

    VmSpec(String name) {
        this.name = name;
    }

    /** Two-dimensional paging (EPT-like): the default. */
    public VmSpec tdp() {
        tdp = true;
        return this;
    }

    /** Shadow paging: KVM shadows the guest's own page tables. */
    public VmSpec shadow() {
        tdp = false;
        return this;
    }

    public VmSpec paging(boolean twoDimensional) {
        tdp = twoDimensional;
        return this;
    }

    public VmSpec vcpus(int n) {
        vcpus = n;
        return this;
    }

    /** Guest RAM, e.g. {@code "16m"}. */
    public VmSpec memory(String size) {
        memoryBytes = com.typesafe.config.ConfigFactory.parseString("m = " + size).getBytes("m");
        return this;
    }

    /**
     * Guest RAM from a shared file mapping (QEMU's memory-backend-file with share=on) instead of anonymous memory:
     * its pages live in the host's page cache, reclaim writes them back (dirty ones) and evicts them, and a store
     * through a writable secondary mapping of a clean page is known to the host only from the secondary's dirty
     * report (I6, the LOST_DIRTY race).
     */
    public VmSpec sharedFileRam() {
        sharedFileRam = true;
        return this;
    }

    /** A guest process running {@code workload} over its own VMAs. */
    public VmSpec process(String processName, List<GuestVma> vmas, LongFunction<Workload> workload) {
        processes.add(new Process(processName, List.copyOf(vmas), workload));
        return this;
    }

    /**
     * A guest process running a synthetic workload of {@code accesses} over a writable region of
     * {@code workingSetBytes} at {@link #DEFAULT_BASE}; its seed is derived from the scenario's.
     */
    public VmSpec workload(WorkloadKind kind, long accesses, double writeFraction, long workingSetBytes) {
        Region region = new Region(DEFAULT_BASE, workingSetBytes);
        int index = processes.size();
        return process("p" + index, List.of(new GuestVma(region.base(), region.end(), true)),
                seed -> WorkloadSpec.of(kind, accesses, writeFraction).create(region,
                        seed * 1_000_003L + name.hashCode() * 101L + index));
    }

    GuestSettings guest(GuestSettings defaults) {
        return new GuestSettings(memoryBytes != null ? memoryBytes : defaults.memoryBytes(),
                vcpus != null ? vcpus : defaults.vcpus(), defaults.sliceAccesses(), defaults.tlb(),
                defaults.goldenCheck());
    }
}
