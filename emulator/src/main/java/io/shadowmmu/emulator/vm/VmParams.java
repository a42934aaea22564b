package io.shadowmmu.emulator.vm;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;
import io.shadowmmu.guest.workload.WorkloadKind;

import java.time.Duration;

/**
 * Settings of the VM scenarios ({@code shadowmmu.vm-scenario}).
 *
 * @param livePages        pages the stressor moves or pages out per round among those the guest may be using
 * @param faultReplyJitter the host's fault-path latency in these scenarios ({@code host.fault-reply-jitter})
 * @param guestMemoryBytes guest RAM of each VM ({@code guest.memory}), where the live pages are picked
 * @param guestRam         what backs guest RAM
 */
record VmParams(int vms, int processesPerVm, WorkloadKind workload, double writeFraction, long workingSet,
                Duration stressInterval, int balloonPages, int forkEvery, long defaultOps, int livePages,
                Duration faultReplyJitter, long guestMemoryBytes, GuestRam guestRam) {

    /** The stressor next to each VM, as these settings describe it. */
    io.shadowmmu.scenario.StressSpec stressSpec(io.shadowmmu.scenario.StressSpec s) {
        return s.interval(stressInterval).balloonPages(balloonPages).forkEvery(forkEvery).livePages(livePages);
    }

    /** The run's settings with the host's fault-path latency these scenarios run under. */
    Settings hostSettings(Settings settings) {
        return Settings.withOverrides(settings.root(), java.util.Map.of("host.fault-reply-jitter",
                faultReplyJitter.toNanos() + "ns"));
    }

    static VmParams read(Settings settings) {
        ConfigReader r = settings.reader().section("vm-scenario");
        double wf;
        try {
            wf = Double.parseDouble(r.raw("write-fraction"));
        } catch (NumberFormatException e) {
            throw r.fail("write-fraction", "must be a fraction between 0 and 1");
        }
        if (wf < 0 || wf > 1) {
            throw r.fail("write-fraction", "must be a fraction between 0 and 1");
        }
        long ws = r.bytes("working-set");
        if (ws < 4096 || ws % 4096 != 0) {
            throw r.fail("working-set", "must be a positive multiple of 4k");
        }
        return new VmParams(r.intBetween("vms", 1, 4096), r.intBetween("processes-per-vm", 1, 64),
                r.enumValue("workload", WorkloadKind.class), wf, ws,
                r.duration("stress-interval", Duration.ZERO, Duration.ofMinutes(1)),
                r.intBetween("balloon-pages", 0, 1 << 20), r.intBetween("fork-every", 0, 1 << 20),
                r.longAtLeast("default-ops", 1), r.intBetween("live-pages", 0, 1 << 16),
                r.duration("fault-reply-jitter", Duration.ZERO, Duration.ofSeconds(1)),
                settings.reader().section("guest").bytes("memory"), r.enumValue("guest-ram", GuestRam.class));
    }
}
