package io.shadowmmu.emulator.vm;

import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.guest.vm.GuestSettings;

import java.util.Map;

/**
 * {@code overcommit}: the VM scenario (half the VMs on TDP, half on shadow paging, see {@code vm-scenario.*}) on a
 * host whose memory is two thirds of what the guests' working sets touch, with reclaim, migration and KSM on. Pages
 * go to swap and come back, hot guest pages stay (their youth comes from the secondaries), pages move and merge,
 * and the oracle must stay clean. The scenario sets {@code host.memory}, {@code migration.enabled} and
 * {@code ksm.enabled} itself.
 */
public final class OvercommitScenario implements Scenario {
    /** Guests together may touch this much more than the host has. */
    static final double OVERCOMMIT = 1.5;

    @Override
    public String name() {
        return "overcommit";
    }

    @Override
    public String description() {
        return "VMs (TDP and shadow) whose working sets sum to 1.5x host memory, with swap, migration and KSM on"
                + " (--ops = guest accesses)";
    }

    /** Memory the guests touch: working sets plus guest page tables and kernel. */
    static long touchedBytes(VmParams p, GuestSettings guest) {
        return p.vms() * (p.processesPerVm() * Math.min(p.workingSet(), guest.memoryBytes()
                / (p.processesPerVm() + 1)) + (1L << 20));
    }

    /** Host memory for guests that touch {@code touched} bytes: {@link #OVERCOMMIT} times less, whole MiB. */
    static long hostMemoryFor(long touched) {
        return Math.max(4L << 20, (long) (touched / OVERCOMMIT)) & ~((1L << 20) - 1);
    }

    /** LOST_DIRTY selects shared-file guest RAM here too (see {@link VmScenario#withGuestRamFor}). */
    @Override
    public String cannotExhibit(io.shadowmmu.config.Variant variant) {
        return variant == io.shadowmmu.config.Variant.LOST_DIRTY ? null : Scenario.super.cannotExhibit(variant);
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        run = VmScenario.withGuestRamFor(run);
        VmParams p = VmParams.read(run.settings());
        GuestSettings guest = GuestSettings.from(run.settings());
        long touched = touchedBytes(p, guest);
        long host = hostMemoryFor(touched);
        Settings settings = Settings.withOverrides(run.settings().root(), Map.of(
                "host.memory", Long.toString(host),
                "migration.enabled", "on",
                "ksm.enabled", "on"));
        ScenarioRun adjusted = run.withSettings(settings);
        ScenarioResult tdp = new VmScenario(true).runHalf(adjusted, true);
        return tdp.put("overcommit.hostMemoryBytes", host).put("overcommit.guestTouchedBytes", touched)
                .line(String.format("host memory %,d KiB for about %,d KiB of guest working sets (%.1fx)",
                        host >> 10, touched >> 10, (double) touched / host));
    }
}
