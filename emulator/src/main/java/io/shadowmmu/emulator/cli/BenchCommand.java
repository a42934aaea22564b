package io.shadowmmu.emulator.cli;

import io.shadowmmu.emulator.bench.BenchRow;
import io.shadowmmu.emulator.bench.BenchSizes;
import io.shadowmmu.emulator.bench.Benchmarks;
import io.shadowmmu.emulator.report.JsonReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code shadowmmu bench}: the performance table of DESIGN.md section 7. Each row puts our figure next to its limit
 * or baseline, both measured in this run, with the ratio, the target and whether it was met.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Run the benchmarks and print each figure next to its limit or baseline, measured in the same"
                + " run, with the ratio and its target.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--quick", description = "Short warm-up and measurement (about 1.5 minutes in all).")
    boolean quick;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON.")
    Path json;

    @Option(names = "--rows", paramLabel = "KEY", split = ",",
            description = "Run only these rows (default: all): tlbHit, faultRoundTrip, zeroSubscriberOverhead,"
                    + " deliveryAtomic, deliverySleeping.")
    java.util.List<String> only = new java.util.ArrayList<>();

    /** Every row for a second or so each: checks the machinery, measures nothing worth quoting. */
    @Option(names = "--smoke", hidden = true)
    boolean smoke;

    @Override
    public Integer call() throws Exception {
        BenchSizes sizes = smoke ? BenchSizes.smoke() : quick ? BenchSizes.quick() : BenchSizes.full();
        long started = System.nanoTime();
        for (String key : only) {
            if (!Benchmarks.ROWS.contains(key)) {
                System.err.println("shadowmmu: unknown bench row '" + key + "' (rows: " + String.join(", ",
                        Benchmarks.ROWS) + ")");
                return 2;
            }
        }
        List<BenchRow> rows = Benchmarks.run(sizes, System.err, new java.util.HashSet<>(only));
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        System.out.println();
        System.out.printf("%-24s %-14s %12s %12s %8s  %-26s %s%n", "row", "unit", "ours", "baseline", "ratio",
                "target", "met");
        for (BenchRow r : rows) {
            System.out.printf("%-24s %-14s %12.4g %12.4g %7.3fx  %-26s %s%n", r.key(), r.unit(), r.ours(),
                    r.baseline(), r.ratio(), r.target(), r.met() ? "yes" : "no");
        }
        System.out.println();
        for (BenchRow r : rows) {
            System.out.printf("%-24s %s, vs %s%n", r.key(), r.title(), r.baselineName());
        }
        System.out.printf("ratio: median of the per-round ratios (JMH row: ratio of the scores); spreads in the"
                + " JSON; %d s in all%n", elapsedMs / 1000);
        if (json != null) {
            Map<String, Object> tree = new LinkedHashMap<>();
            for (BenchRow r : rows) {
                tree.put(r.key(), r.toMap());
            }
            tree.put("quick", quick);
            tree.put("smoke", smoke);
            tree.put("sizes", sizes.toString());
            tree.put("cores", Runtime.getRuntime().availableProcessors());
            tree.put("cpu", cpuModel());
            tree.put("java", System.getProperty("java.version"));
            tree.put("elapsed_ms", elapsedMs);
            JsonReport.write(json, tree);
        }
        return 0;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (Exception e) {
            // not Linux: the model is not reported
        }
        return "unknown";
    }
}
