package io.shadowmmu.emulator.vm;

import io.shadowmmu.config.SettingsException;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.trace.LackeyTrace;
import io.shadowmmu.guest.trace.TraceFormatException;
import io.shadowmmu.guest.trace.TraceStats;
import io.shadowmmu.guest.workload.AccessBatch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code trace}: replays a Valgrind Lackey trace ({@code valgrind --tool=lackey --trace-mem=yes}) in one guest
 * process and reports its data and instruction TLBs and its faults. The trace is checked whole before the run, so
 * a malformed line is reported with its number and nothing runs.
 */
public final class TraceScenario implements Scenario {

    @Override
    public String name() {
        return "trace";
    }

    @Override
    public String description() {
        return "replay a Valgrind Lackey trace in one guest (--file F.lackey [--mode tdp|shadow])";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        Path file = run.file();
        if (file == null) {
            throw new SettingsException("--file", "(none)", "the trace scenario needs --file F.lackey");
        }
        if (!Files.isReadable(file)) {
            throw new SettingsException("--file", file.toString(), "is not a readable file");
        }
        boolean tdp = run.mode() == null || run.mode().equalsIgnoreCase("tdp");
        if (run.mode() != null && !tdp && !run.mode().equalsIgnoreCase("shadow")) {
            throw new SettingsException("--mode", run.mode(), "must be tdp or shadow");
        }
        TraceStats checked;
        try (LackeyTrace whole = LackeyTrace.open(file)) {
            AccessBatch scratch = new AccessBatch(4096);
            while (whole.fill(scratch)) {
                scratch.clear();
            }
            checked = whole.stats();
        } catch (TraceFormatException e) {
            throw new SettingsException("--file", file.toString(), e.getMessage());
        }
        VmParams p = VmParams.read(run.settings());
        VmCoordinator.Plan plan = new VmCoordinator.Plan(1, 1, tdp, false, (vm, proc) -> LackeyTrace.open(file),
                List.of(new GuestVma(0, 1L << 47, true)), false, p);
        VmCoordinator.Outcome o = VmRunner.run(run, plan, checked.accesses());
        ScenarioResult r = new ScenarioResult().put("ops", checked.accesses()).put("mode", tdp ? "tdp" : "shadow")
                .put("trace.file", file.toString()).put("trace.lines", checked.lines())
                .put("trace.instructionFetches", checked.instructionFetches()).put("trace.loads", checked.loads())
                .put("trace.stores", checked.stores()).put("trace.modifies", checked.modifies())
                .put("trace.pageSpanning", checked.pageSpanning());
        r.line(String.format("trace %s: %,d lines, %,d instruction fetches, %,d loads, %,d stores, %,d modifies",
                file.getFileName(), checked.lines(), checked.instructionFetches(), checked.loads(), checked.stores(),
                checked.modifies()));
        VmRunner.report(r, o);
        if (!o.vms().isEmpty()) {
            var s = o.vms().get(0).total();
            r.line(String.format("instruction TLB %,d hits / %,d misses; data TLB %,d hits / %,d misses",
                    s.itlb().hits(), s.itlb().misses(), s.tlb().hits(), s.tlb().misses()));
        }
        return r;
    }
}
