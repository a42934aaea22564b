package io.shadowmmu.emulator.cli;

import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import io.shadowmmu.emulator.Main;
import io.shadowmmu.emulator.oracle.OracleSupport;
import io.shadowmmu.emulator.report.HtmlReport;
import io.shadowmmu.emulator.report.JsonReport;
import io.shadowmmu.emulator.report.Progress;
import io.shadowmmu.emulator.report.Telemetry;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.emulator.scenario.Scenarios;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code shadowmmu run}: runs one scenario and reports the oracle's verdict in the exit code. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run a scenario on an embedded actor system. Exit code 0: the oracle is clean; 1: a violation;"
                + " 2: bad arguments or settings.")
public final class RunCommand implements Callable<Integer> {

    @Option(names = "--scenario", paramLabel = "NAME", description = "Scenario to run (default: ${DEFAULT-VALUE}).")
    String scenario = Scenarios.DEFAULT;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of every random choice (default: shadowmmu.seed).")
    Long seed;

    @Option(names = "--ops", paramLabel = "N", description = "Operations to perform (scenario default when absent).")
    long ops;

    @Option(names = "--duration", paramLabel = "TIME",
            description = "How long a time-bounded scenario (mixed) runs before it quiesces and audits, e.g. 10s,"
                    + " 2m, 500ms (default: mixed.duration, 30s).")
    String duration;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a setting (keys relative to shadowmmu, e.g. notifier.strategy=range). Repeatable.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--variant", paramLabel = "NAME",
            description = "Run a deliberately BROKEN protocol from the race catalogue (for testing the oracle): "
                    + "no_fault_retry, ack_before_flush, free_before_ack, lost_dirty (VM scenarios: selects shared-file"
                    + " guest RAM), stale_inflight_fault and skip_write_back (cluster scenario only),"
                    + " register_unquiesced (gru scenario only: sets notifier.strategy=range, gru.context-churn and"
                    + " gru.slow-ack unless given).")
    String variant;

    @Option(names = "--file", paramLabel = "FILE", description = "Input of the trace scenario (a Lackey trace).")
    Path file;

    @Option(names = "--mode", paramLabel = "tdp|shadow", description = "Paging mode of the trace scenario.")
    String mode;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the result as JSON.")
    Path json;

    @Option(names = "--report", paramLabel = "DIR",
            description = "Directory of the report: index.html (charts) and result.json (default: ${DEFAULT-VALUE}).")
    Path report = Path.of("report");

    @Option(names = "--no-report", description = "Do not write the report directory.")
    boolean noReport;

    @Option(names = {"-q", "--quiet"}, description = "No progress output.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        Scenario s = Scenarios.find(scenario).orElse(null);
        if (s == null) {
            return usage("unknown scenario '" + scenario + "' (known: " + String.join(", ", Scenarios.all().keySet())
                    + ")");
        }
        if (ops < 0) {
            return usage("--ops must not be negative: " + ops);
        }
        Duration bound = null;
        if (duration != null) {
            if (!s.timeBounded()) {
                return usage("--duration applies to time-bounded scenarios (mixed); " + s.name()
                        + " is bounded by --ops");
            }
            try {
                bound = Durations.parse(duration);
            } catch (IllegalArgumentException e) {
                return usage("--duration " + duration + ": " + e.getMessage());
            }
        }
        Settings settings;
        try {
            Map<String, String> all = new LinkedHashMap<>(overrides);
            if (seed != null) {
                all.put("seed", Long.toString(seed));
            }
            if (variant != null) {
                all.put("variant", variant);
            }
            settings = Settings.withOverrides(all);
        } catch (SettingsException e) {
            return usage(e.getMessage());
        }
        String refusal = s.cannotExhibit(settings.variant());
        if (refusal != null) {
            return usage(refusal);
        }
        if (settings.variant() != io.shadowmmu.config.Variant.NONE) {
            System.err.println("shadowmmu: WARNING: running the BROKEN protocol variant " + settings.variant()
                    + " (" + settings.variant().meaning() + "); the oracle is expected to report violations");
        }
        OracleSupport oracle = OracleSupport.create(settings);
        long started = System.nanoTime();
        ScenarioResult result;
        Telemetry telemetry = new Telemetry();
        try (Progress progress = Progress.forTerminal(s.name(), quiet)) {
            result = s.run(new ScenarioRun(settings, ops, progress, oracle, file, mode, bound, telemetry));
        } catch (SettingsException e) {
            return usage(e.getMessage());
        }
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;

        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("scenario", s.name());
        tree.put("seed", settings.seed());
        tree.put("variant", settings.variant().name());
        tree.putAll(result.tree());
        tree.put("elapsed_ms", elapsedMs);
        if (telemetry.samples() > 0) {
            tree.put("timeseries", telemetry.toTree());
        }
        Map<String, Object> verdict = new LinkedHashMap<>();
        verdict.put("enabled", oracle.enabled());
        verdict.put("clean", oracle.clean());
        verdict.put("events", oracle.eventsSeen());
        verdict.put("violations", oracle.counts());
        verdict.put("stories", oracle.stories(10));
        tree.put("oracle", verdict);

        System.out.printf("%s (seed %d) finished in %.1f s%n", s.name(), settings.seed(), elapsedMs / 1000.0);
        for (String line : result.summary()) {
            System.out.println("  " + line);
        }
        if (!oracle.enabled()) {
            System.out.println("  oracle: off (oracle.enabled = off)");
        } else if (oracle.clean()) {
            System.out.println("  oracle: clean (I1-I6, no violation)");
        } else {
            System.out.println("  oracle: " + oracle.total() + " VIOLATION(S) " + oracle.counts());
            for (String story : oracle.stories(3)) {
                System.out.println("    " + story.replace("\n", "\n    "));
            }
        }
        if (json != null) {
            JsonReport.write(json, tree);
            System.out.println("  json: " + json);
        }
        if (!noReport) {
            Path page = HtmlReport.write(report, tree, result.summary());
            System.out.println("  report: " + page + " (and " + report.resolve(HtmlReport.JSON) + ")");
        }
        return oracle.clean() ? 0 : Main.EXIT_VIOLATION;
    }

    private static int usage(String message) {
        System.err.println("shadowmmu: " + message);
        return Main.EXIT_USAGE;
    }
}
