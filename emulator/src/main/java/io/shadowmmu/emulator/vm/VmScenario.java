package io.shadowmmu.emulator.vm;

import io.shadowmmu.config.Settings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.guest.workload.WorkloadSpec;

import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * {@code vm-tdp} and {@code vm-shadow}: VMs whose vCPUs run a seeded workload through TDP or shadow paging while a
 * host stressor on each VM's VMM process discards, remaps and write-protects guest pages and forks the VMM.
 */
public final class VmScenario implements Scenario {
    /** Guest virtual base of every process's working set. */
    private static final long BASE = 0x40_0000L;

    private final boolean tdp;

    public VmScenario(boolean tdp) {
        this.tdp = tdp;
    }

    @Override
    public String name() {
        return tdp ? "vm-tdp" : "vm-shadow";
    }

    @Override
    public String description() {
        return "VMs run workloads through " + (tdp ? "TDP (EPT-like)" : "shadow") + " page tables while the host"
                + " discards, remaps, write-protects and COW-forks guest RAM (--ops = guest accesses)";
    }

    /** LOST_DIRTY needs guest RAM in the page cache under reclaim; the other variants run here as they are. */
    @Override
    public String cannotExhibit(Variant variant) {
        return variant == Variant.LOST_DIRTY ? null : Scenario.super.cannotExhibit(variant);
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        run = withGuestRamFor(run);
        if (VmParams.read(run.settings()).guestRam() != GuestRam.SHARED_FILE) {
            return runHalf(run, false);
        }
        // Page-cache guest RAM matters under reclaim: size the host below what the guests touch, as overcommit does.
        VmParams p = VmParams.read(run.settings());
        GuestSettings guest = GuestSettings.from(run.settings());
        long touched = OvercommitScenario.touchedBytes(p, guest);
        long host = OvercommitScenario.hostMemoryFor(touched);
        ScenarioResult r = runHalf(run.withSettings(Settings.withOverrides(run.settings().root(),
                Map.of("host.memory", Long.toString(host)))), false);
        return r.put("guestRam", "shared-file").put("hostMemoryBytes", host)
                .line(String.format("guest RAM: shared file mappings; host memory %,d KiB for about %,d KiB of guest"
                        + " working sets, so reclaim writes back and evicts guest pages", host >> 10, touched >> 10));
    }

    /** The lost_dirty variant selects shared-file guest RAM: only page-cache pages can lose a secondary's store. */
    static ScenarioRun withGuestRamFor(ScenarioRun run) {
        if (run.settings().variant() != Variant.LOST_DIRTY
                || VmParams.read(run.settings()).guestRam() == GuestRam.SHARED_FILE) {
            return run;
        }
        return run.withSettings(Settings.withOverrides(run.settings().root(),
                Map.of("vm-scenario.guest-ram", "shared-file")));
    }

    /** Runs the scenario; with {@code mixed}, odd-numbered VMs use the other paging mode. */
    ScenarioResult runHalf(ScenarioRun run, boolean mixed) throws Exception {
        VmParams p = VmParams.read(run.settings());
        GuestSettings guest = GuestSettings.from(run.settings());
        run = run.withSettings(p.hostSettings(run.settings()));
        long ops = run.opsOr(p.defaultOps());
        int processes = p.vms() * p.processesPerVm();
        long perProcess = Math.max(1, ops / processes);
        VmCoordinator.Plan plan = plan(p, guest, tdp, mixed, perProcess, run.seed(), UnaryOperator.identity());
        VmCoordinator.Outcome o = VmRunner.run(run, plan, perProcess * processes);
        ScenarioResult r = new ScenarioResult().put("ops", perProcess * processes)
                .put("mode", mixed ? "tdp+shadow" : tdp ? "tdp" : "shadow");
        VmRunner.report(r, o);
        stressors(r, o);
        return r;
    }

    /**
     * The plan of a VM run with host stressors: every process runs {@code perProcess} accesses of the configured
     * workload over its own working set; {@code bound} may wrap each workload (a time limit).
     */
    static VmCoordinator.Plan plan(VmParams p, GuestSettings guest, boolean tdp, boolean mixed, long perProcess,
                                   long seed, UnaryOperator<Workload> bound) {
        // Leave the guest kernel room for page tables and the balloon; regions are whole pages.
        long workingSet = Math.min(p.workingSet(), guest.memoryBytes() / (p.processesPerVm() + 1)) & ~4095L;
        Region region = new Region(BASE, workingSet);
        return new VmCoordinator.Plan(p.vms(), p.processesPerVm(), tdp, mixed,
                (vm, proc) -> bound.apply(WorkloadSpec.of(p.workload(), perProcess, p.writeFraction())
                        .create(region, seed * 1_000_003L + vm * 101L + proc)),
                List.of(new GuestVma(region.base(), region.end(), true)), true, p);
    }

    /** What the host stressors did, and the host invalidations of the VMM processes. */
    static void stressors(ScenarioResult r, VmCoordinator.Outcome o) {
        long rounds = 0;
        long dontneeds = 0;
        long remaps = 0;
        long protects = 0;
        long forks = 0;
        long moves = 0;
        long pageouts = 0;
        for (HostStressor.Done d : o.stressors()) {
            moves += d.moves();
            pageouts += d.pageouts();
            rounds += d.rounds();
            dontneeds += d.dontneeds();
            remaps += d.remaps();
            protects += d.protects();
            forks += d.forks();
        }
        r.put("stressor.rounds", rounds).put("stressor.dontneeds", dontneeds).put("stressor.remaps", remaps)
                .put("stressor.mprotects", protects).put("stressor.forks", forks).put("stressor.moves", moves)
                .put("stressor.pageouts", pageouts);
        long hostInvalidations = 0;
        for (io.shadowmmu.hostmm.mm.MmStats s : o.vmms()) {
            hostInvalidations += s.notifier().invalidations();
        }
        r.put("host.invalidations", hostInvalidations);
        r.line(String.format("host stressor: %,d rounds: %,d DONTNEED, %,d munmap+remap, %,d mprotect, %,d forks,"
                + " %,d move_pages, %,d MADV_PAGEOUT; %,d host invalidations", rounds, dontneeds, remaps, protects,
                forks, moves, pageouts, hostInvalidations));
    }
}
