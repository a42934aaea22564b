package io.shadowmmu.emulator.vm;

import akka.actor.typed.ActorSystem;
import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.gru.GruScenario;
import io.shadowmmu.emulator.report.AckHistogram;
import io.shadowmmu.emulator.report.Progress;
import io.shadowmmu.emulator.report.Telemetry;
import io.shadowmmu.emulator.report.TimeProfile;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.emulator.scenario.RunBound;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.emulator.strategies.StrategiesScenario;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmStats;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * {@code mixed}, the default scenario: everything at once on ONE host. VMs on TDP and on shadow paging run workloads
 * while host stressors discard, remap, write-protect and COW-fork their RAM; a GRU device serves user processes
 * whose memory its own stressor churns; the host is a little short of memory, so reclaim swaps, and migration and
 * KSM move and merge pages under every secondary MMU; the oracle watches it all. It runs for {@code --duration}
 * (or until {@code --ops} guest accesses), quiesces, audits the host's frames, then measures the notifier messages
 * per invalidated page of each delivery strategy in a short separate round.
 */
public final class MixedScenario implements Scenario {

    /** The settings of the mixed scenario ({@code shadowmmu.mixed}). */
    record Params(Duration duration, int vms, int processesPerVm, long workingSet, int gruDevices, int gruProcesses,
                  double overcommit, int strategyPages, int strategyRounds) {

        static Params read(Settings settings) {
            ConfigReader r = settings.reader().section("mixed");
            double overcommit;
            try {
                overcommit = Double.parseDouble(r.raw("overcommit"));
            } catch (NumberFormatException e) {
                throw r.fail("overcommit", "must be a number between 1 and 4");
            }
            if (!(overcommit >= 1 && overcommit <= 4)) {
                throw r.fail("overcommit", "must be a number between 1 and 4");
            }
            long ws = r.bytes("working-set");
            if (ws < 4096 || ws % 4096 != 0) {
                throw r.fail("working-set", "must be a positive multiple of 4k");
            }
            return new Params(r.duration("duration", Duration.ofMillis(100), Duration.ofDays(1)),
                    r.intBetween("vms", 1, 64), r.intBetween("processes-per-vm", 1, 16), ws,
                    r.intBetween("gru-devices", 1, 16), r.intBetween("gru-processes", 1, 64), overcommit,
                    r.intBetween("strategy-pages", 1, 1 << 16), r.intBetween("strategy-rounds", 0, 1000));
        }
    }

    /** Effectively unbounded: a time-bounded run ends by its bound, not by running out of work. */
    private static final long UNBOUNDED = Long.MAX_VALUE / 8;

    @Override
    public String name() {
        return "mixed";
    }

    @Override
    public String description() {
        return "the default: TDP and shadow VMs, a GRU device and host stressors on one host short of memory"
                + " (reclaim, migration, KSM), for --duration (default mixed.duration) or --ops guest accesses";
    }

    @Override
    public boolean timeBounded() {
        return true;
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        Params m = Params.read(run.settings());
        // The guests' working sets plus a MiB each for guest page tables and kernel, and the devices' memory.
        long touched = m.vms() * (m.processesPerVm() * m.workingSet() + (1L << 20))
                + m.gruProcesses() * GruSettings.read(run.settings()).regionBytes();
        long hostMemory = Math.max(8L << 20, (long) (touched / m.overcommit())) & ~((1L << 20) - 1);
        Settings settings = Settings.withOverrides(run.settings().root(), Map.of(
                "host.memory", Long.toString(hostMemory),
                "reclaim.enabled", "on", "migration.enabled", "on", "ksm.enabled", "on",
                "vm-scenario.vms", Integer.toString(m.vms()),
                "vm-scenario.processes-per-vm", Integer.toString(m.processesPerVm()),
                "vm-scenario.working-set", Long.toString(m.workingSet()),
                "gru.devices", Integer.toString(m.gruDevices()),
                "gru.processes", Integer.toString(m.gruProcesses())));
        VmParams p = VmParams.read(settings);
        GuestSettings guest = GuestSettings.from(settings);
        // --duration bounds the run; --ops alone bounds it by guest accesses; neither: mixed.duration.
        Duration duration = run.duration() != null ? run.duration() : run.ops() > 0 ? null : m.duration();
        long perProcess = run.ops() > 0 ? Math.max(1, run.ops() / (m.vms() * m.processesPerVm())) : UNBOUNDED;
        long accessBudget = run.ops() > 0 ? perProcess * m.vms() * m.processesPerVm() : 0;

        HostContext host = HostContext.create(settings, run.oracle().events());
        LiveVms liveVms = new LiveVms(m.vms());
        MixedCoordinator.LiveHost liveHost = new MixedCoordinator.LiveHost();
        CompletableFuture<MixedCoordinator.Outcome> outcome = new CompletableFuture<>();
        long started = System.nanoTime();
        RunBound bound = RunBound.after(duration);
        VmCoordinator.Plan plan = VmScenario.plan(p, guest, true, true, perProcess, run.seed(),
                w -> new BoundedWorkload(w, bound));
        io.shadowmmu.gru.scenario.GruScenario.Params gru = new io.shadowmmu.gru.scenario.GruScenario.Params(
                GruSettings.read(settings), UNBOUNDED, run.seed() ^ 0x6A5L, true, bound::reached);
        ActorSystem<MixedCoordinator.Command> system = ActorSystem.create(
                MixedCoordinator.create(host, plan, liveVms, gru, bound, liveHost, outcome), "mixed",
                EmbeddedSystem.config(settings));
        TimeProfile profile = TimeProfile.start("mixed-akka.");

        Telemetry t = run.telemetry();
        VmRunner.series(t, liveVms);
        t.rate(Telemetry.EVENTS, "host faults/s", liveHost.faults::get);
        t.rate(Telemetry.EVENTS, "host invalidations/s", liveHost.invalidations::get);
        t.gauge(Telemetry.EVENTS, "violations", () -> run.oracle().total());
        long durationMs = duration == null ? 0 : duration.toMillis();
        LongSupplier done = duration != null
                ? () -> Math.min(durationMs, (System.nanoTime() - started) / 1_000_000) / 1000
                : liveVms::accesses;
        MixedCoordinator.Outcome o;
        try {
            o = Awaiting.outcome(run, outcome, done, duration != null ? durationMs / 1000 : accessBudget,
                    // Violations first: a narrow terminal cuts the end of the line.
                    () -> String.format("violations %d  accesses %,d  faults %,d  invalidations %,d%s",
                            run.oracle().total(), liveVms.accesses(), liveHost.faults.get(),
                            liveHost.invalidations.get(), bound.reached() ? "  (quiescing)" : ""));
        } finally {
            profile.close();
            t.clearGauges();
            system.terminate();
        }
        if (o.failure() != null) {
            throw new IllegalStateException(o.failure());
        }
        run.oracle().finish(o.audit());
        long elapsedRunMs = (System.nanoTime() - started) / 1_000_000;

        ScenarioResult r = new ScenarioResult().put("mode", "tdp+shadow")
                .put("duration_ms", durationMs).put("run_ms", elapsedRunMs);
        VmCoordinator.Outcome vms = new VmCoordinator.Outcome(o.vms().vms(), o.vms().kvms(), o.vms().stressors(),
                o.vms().vmms(), o.audit(), o.pressure(), null, o.vms().runNanos());
        VmRunner.report(r, vms);
        VmScenario.stressors(r, vms);
        GruScenario.report(r, o.gru(), GruSettings.read(run.settings()));
        host(r, o);
        r.put("ops", r.get("accesses"));
        long accesses = (Long) r.get("accesses");
        double perSecond = o.vms().runNanos() <= 0 ? 0.0 : accesses * 1e9 / o.vms().runNanos();
        r.put("accessesPerSecond", perSecond).put("runningNanos", o.vms().runNanos());
        r.line(String.format("%,.0f guest accesses/s over the %,d ms running phase", perSecond,
                o.vms().runNanos() / 1_000_000));
        Map<String, Object> shares = profile.result();
        r.put("profile", shares);
        r.line(TimeProfile.line(shares));
        r.put("mixed.hostMemoryBytes", hostMemory).put("mixed.guestTouchedBytes", touched);
        r.line(String.format("host memory %,d KiB for about %,d KiB touched by guests and devices (%.2fx)",
                hostMemory >> 10, touched >> 10, (double) touched / hostMemory));
        if (m.strategyRounds() > 0) {
            r.line("messages per invalidated page by strategy (" + m.strategyRounds() + " munmaps of "
                    + m.strategyPages() + " pages each):");
            ScenarioRun quiet = new ScenarioRun(run.settings(), 0, Progress.NONE, run.oracle(), null, null, null,
                    new Telemetry());
            r.put("strategies", StrategiesScenario.measure(quiet, m.strategyPages(), m.strategyRounds(), r));
        }
        return r;
    }

    /** Host-wide notifier counters and the ack latency histogram, over every process of the run. */
    private static void host(ScenarioResult r, MixedCoordinator.Outcome o) {
        long faults = 0;
        long invalidations = 0;
        long messages = 0;
        long acks = 0;
        long fenced = 0;
        long p99 = 0;
        long weightedP50 = 0;
        for (MmStats s : o.processes()) {
            faults += s.faults().total();
            invalidations += s.notifier().invalidations();
            messages += s.notifier().messages();
            acks += s.notifier().acks();
            fenced += s.notifier().fences();
            p99 = Math.max(p99, s.ackLatency().p99Micros());
            weightedP50 += s.ackLatency().p50Micros() * s.ackLatency().count();
        }
        long count = 0;
        for (MmStats s : o.processes()) {
            count += s.ackLatency().count();
        }
        r.put("host.processes", o.processes().size()).put("host.faults", faults)
                .put("host.invalidations", invalidations).put("host.messages", messages).put("host.acks", acks)
                .put("host.fenced", fenced)
                .put("host.ackLatencyMicros.count", count)
                .put("host.ackLatencyMicros.p50", count == 0 ? 0 : weightedP50 / count)
                .put("host.ackLatencyMicros.p99Max", p99)
                .put("host.ackLatencyMicros.histogram", AckHistogram.rows(o.processes()));
        r.line(String.format("host: %d processes, %,d faults, %,d invalidations, %,d notifier messages, %,d acks"
                + " (p50 %,d us, worst p99 %,d us), %,d fenced", o.processes().size(), faults, invalidations,
                messages, acks, count == 0 ? 0 : weightedP50 / count, p99, fenced));
    }
}
