package io.shadowmmu.emulator.scenario;

import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.oracle.OracleSupport;
import io.shadowmmu.emulator.report.Progress;


/**
 * What a scenario is given: validated settings (seed included), how much to do, where to report progress, and the
 * oracle to wire into every host.
 *
 * @param ops      operations to perform (a scenario-specific unit; see its description), or 0 for its default
 * @param file     input file of scenarios that replay one (trace), or null
 * @param mode     paging mode of scenarios that take one (tdp or shadow), or null
 */
public record ScenarioRun(Settings settings, long ops, Progress progress, OracleSupport oracle,
                          java.nio.file.Path file, String mode) {
    public long seed() {
        return settings.seed();
    }

    public long opsOr(long fallback) {
        return ops > 0 ? ops : fallback;
    }
}
