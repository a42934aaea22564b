package io.shadowmmu.emulator.scenario;

import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.oracle.OracleSupport;
import io.shadowmmu.emulator.report.Progress;
import io.shadowmmu.emulator.report.Telemetry;

import java.time.Duration;


/**
 * What a scenario is given: validated settings (seed included), how much to do, where to report progress, and the
 * oracle to wire into every host.
 *
 * @param ops       operations to perform (a scenario-specific unit; see its description), or 0 for its default
 * @param file      input file of scenarios that replay one (trace), or null
 * @param mode      paging mode of scenarios that take one (tdp or shadow), or null
 * @param duration  how long scenarios bounded by time run ({@code --duration}), or null for their default
 * @param telemetry where a scenario's time series go (sampled by {@link Awaiting} while it waits)
 */
public record ScenarioRun(Settings settings, long ops, Progress progress, OracleSupport oracle,
                          java.nio.file.Path file, String mode, Duration duration, Telemetry telemetry) {

    public ScenarioRun(Settings settings, long ops, Progress progress, OracleSupport oracle, java.nio.file.Path file,
                       String mode) {
        this(settings, ops, progress, oracle, file, mode, null, new Telemetry());
    }

    public long seed() {
        return settings.seed();
    }

    public long opsOr(long fallback) {
        return ops > 0 ? ops : fallback;
    }

    /** The same run with other settings (a scenario that sets some keys itself). */
    public ScenarioRun withSettings(Settings other) {
        return new ScenarioRun(other, ops, progress, oracle, file, mode, duration, telemetry);
    }
}
