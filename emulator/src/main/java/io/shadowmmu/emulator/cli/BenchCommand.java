package io.shadowmmu.emulator.cli;

import io.shadowmmu.emulator.bench.TlbHitBenchmark;
import io.shadowmmu.emulator.report.JsonReport;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code shadowmmu bench}: measurements that put our figures next to their limit, measured side by side in one run
 * (JMH). Today: the vCPU TLB-hit path against a raw loop over the same address stream.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Run the benchmarks (JMH) and print each figure next to its limit, measured in the same run.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--quick", description = "Short warm-up and measurement (about 30 s in all).")
    boolean quick;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON.")
    Path json;

    @Override
    public Integer call() throws Exception {
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(TlbHitBenchmark.class.getName())
                .forks(1)
                .jvmArgsAppend("-Xmx1g")
                .warmupIterations(quick ? 2 : 5).warmupTime(TimeValue.seconds(quick ? 1 : 2))
                .measurementIterations(quick ? 3 : 10).measurementTime(TimeValue.seconds(quick ? 1 : 2));
        Collection<RunResult> results = new Runner(options.build()).run();
        Map<String, Double> opsPerSecond = new LinkedHashMap<>();
        Map<String, Double> errors = new LinkedHashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            opsPerSecond.put(name, r.getPrimaryResult().getScore());
            errors.put(name, r.getPrimaryResult().getScoreError());
        }
        double raw = opsPerSecond.getOrDefault("rawLoop", Double.NaN);
        double hit = opsPerSecond.getOrDefault("tlbHit", Double.NaN);
        System.out.println();
        System.out.printf("%-34s %16s %12s%n", "measurement", "accesses/s", "vs limit");
        System.out.printf("%-34s %16.3e %12s%n", "raw array loop (the limit)", raw, "1.00x");
        System.out.printf("%-34s %16.3e %11.2fx  (target >= 0.50x)%n", "vCPU TLB-hit path (check mode)", hit,
                hit / raw);
        if (json != null) {
            Map<String, Object> tree = new LinkedHashMap<>();
            Map<String, Object> tlb = new LinkedHashMap<>();
            tlb.put("rawLoopAccessesPerSecond", raw);
            tlb.put("rawLoopError", errors.get("rawLoop"));
            tlb.put("tlbHitAccessesPerSecond", hit);
            tlb.put("tlbHitError", errors.get("tlbHit"));
            tlb.put("ratio", hit / raw);
            tree.put("tlbHit", tlb);
            tree.put("quick", quick);
            tree.put("cores", Runtime.getRuntime().availableProcessors());
            tree.put("java", System.getProperty("java.version"));
            JsonReport.write(json, tree);
        }
        return 0;
    }
}
