package io.shadowmmu.scenario;

import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.scenario.GruStressor;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.kvm.KvmStats;

import java.util.List;

/**
 * What one scenario run did: each VM's and KVM's counters, what the VM stressors did, each VMM's host counters, the
 * GRU devices and their processes, the host's final frame audit (I5) and its memory-pressure counters. When the run
 * could not be set up or did not finish, {@code failure} says why and the lists hold what was gathered.
 *
 * @param vms          VM counters, in the order the VMs finished
 * @param gruStress    what the GRU stressors did, and those on callers' secondaries' regions, summed
 * @param runNanos     from the moment everything was set up until the last VM, GRU process and caller's secondary
 *                     finished (0 if never)
 * @param secondaries  what each caller's secondary reported ({@link ScenarioBuilder#secondary}), in finishing order
 */
public record ScenarioOutcome(List<VmStats> vms, List<KvmStats> kvms, List<VmHostStressor.Done> stressors,
                              List<MmStats> vmms, List<GruStats> devices, List<GruProcess.Result> gruProcesses,
                              GruStressor.Counts gruStress, HostCommand.AuditReport audit,
                              PressureCounters.Snapshot pressure, String failure, long runNanos,
                              List<SecondaryDone> secondaries) {

    /** Guest accesses over every VM. */
    public long guestAccesses() {
        long n = 0;
        for (VmStats s : vms) {
            n += s.accesses();
        }
        return n;
    }

    /** Device instructions over every GRU process. */
    public long deviceInstructions() {
        long n = 0;
        for (GruProcess.Result r : gruProcesses) {
            n += r.instructions();
        }
        return n;
    }
}
