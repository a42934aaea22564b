package io.shadowmmu.emulator.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The performance table of DESIGN.md section 7: every row is our figure and its limit or baseline, measured side by
 * side in this run. The TLB-hit row is a JMH micro-benchmark; the rows where actors are involved use {@link Harness}
 * (fresh loads, alternating, several measured windows) on one {@link BenchHost}.
 */
public final class Benchmarks {
    private Benchmarks() {
    }

    /** Every row's key, in the order they run. */
    public static final List<String> ROWS = List.of("tlbHit", "faultRoundTrip", "zeroSubscriberOverhead",
            "deliveryAtomic", "deliverySleeping");

    /** Runs the rows named in {@code only} (all of them when empty); {@code log} gets one line as each starts. */
    public static List<BenchRow> run(BenchSizes sizes, PrintStream log, java.util.Set<String> only)
            throws Exception {
        List<BenchRow> rows = new ArrayList<>();
        java.util.function.Predicate<String> wanted = key -> only.isEmpty() || only.contains(key);
        if (wanted.test("tlbHit")) {
            log.println("bench: TLB-hit path vs raw loop (JMH)");
            rows.add(tlbHit(sizes));
        }
        try (BenchHost bench = new BenchHost()) {
            if (wanted.test("faultRoundTrip")) {
                log.println("bench: fault round trip vs Akka request-reply");
                rows.add(BenchRow.of("faultRoundTrip", "secondary fault round trip (GetUserPage, fresh page)",
                    "round trips/s", Harness.compare(() -> FaultDriver.start(bench, sizes.faultRegionPages()),
                            () -> PingPong.start(bench), sizes),
                    "Akka request-reply limit (ping-pong)", 0.25, ">= 0.25x"));
            }
            if (wanted.test("zeroSubscriberOverhead")) {
                log.println("bench: host mmap/fault/munmap, 0 subscribers vs notifier bypassed");
                rows.add(BenchRow.of("zeroSubscriberOverhead", "host mmap+" + sizes.cyclePages()
                            + " faults+munmap, 0 subscribers", "cycles/CPU-s",
                    Harness.compare(() -> HostCycleDriver.start(bench, sizes.cyclePages(), false),
                            () -> HostCycleDriver.start(bench, sizes.cyclePages(), true), sizes,
                            Harness.Basis.CPU),
                    "same mm, notifier bypassed", 0.98, "overhead <= 2% (>= 0.98x)"));
            }
            for (SubscriberKind kind : SubscriberKind.values()) {
                if (!wanted.test(kind == SubscriberKind.ATOMIC ? "deliveryAtomic" : "deliverySleeping")) {
                    continue;
                }
                log.println("bench: actor vs synchronous delivery, " + kind.name().toLowerCase() + " subscribers");
                boolean atomic = kind == SubscriberKind.ATOMIC;
                rows.add(BenchRow.of(atomic ? "deliveryAtomic" : "deliverySleeping",
                        "actor delivery, " + (atomic ? "2 atomic subscribers" : "atomic + 1 ms sleeping subscriber")
                                + " (" + sizes.processes() + " mms x " + sizes.workersPerProcess() + " workers)",
                        "host ops/s", Harness.compare(() -> ActorDelivery.start(bench, sizes, kind),
                                () -> new SyncDelivery(bench, sizes, kind), sizes, deliveryBasis()),
                        "synchronous lock-based delivery", atomic ? 0.8 : 10, atomic ? ">= 0.8x" : ">= 10x"));
            }
        }
        return rows;
    }

    private static BenchRow tlbHit(BenchSizes sizes) throws RunnerException {
        OptionsBuilder options = new OptionsBuilder();
        options.include(TlbHitBenchmark.class.getName())
                .forks(sizes.jmhFork() ? 1 : 0)
                .jvmArgsAppend("-Xmx1g")
                .verbosity(sizes.jmhFork() ? VerboseMode.NORMAL : VerboseMode.SILENT)
                .warmupIterations(sizes.jmhWarmups())
                .warmupTime(TimeValue.milliseconds(sizes.jmhTime().toMillis()))
                .measurementIterations(sizes.jmhIterations())
                .measurementTime(TimeValue.milliseconds(sizes.jmhTime().toMillis()));
        Collection<RunResult> results = new Runner(options.build()).run();
        double raw = Double.NaN;
        double rawError = Double.NaN;
        double hit = Double.NaN;
        double hitError = Double.NaN;
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            if (name.equals("rawLoop")) {
                raw = r.getPrimaryResult().getScore();
                rawError = r.getPrimaryResult().getScoreError();
            } else if (name.equals("tlbHit")) {
                hit = r.getPrimaryResult().getScore();
                hitError = r.getPrimaryResult().getScoreError();
            }
        }
        return new BenchRow("tlbHit", "vCPU TLB-hit path (check mode)", "accesses/s", hit, finite(hitError),
                "raw array loop", raw, finite(rawError), hit / raw, 0, 0.5, ">= 0.5x", null);
    }

    /** JMH reports NaN as the error of a single iteration. */
    private static double finite(double v) {
        return Double.isFinite(v) ? v : 0;
    }

    /**
     * The delivery rows count operations per elapsed second; {@code -Dshadowmmu.bench.delivery-cpu=true} counts
     * them per CPU-second of the whole process instead, a diagnostic that other processes on a shared machine
     * disturb less (BENCHMARKS.md, issue 16). The rows' targets are for the elapsed-time figures.
     */
    private static Harness.Basis deliveryBasis() {
        return Boolean.getBoolean("shadowmmu.bench.delivery-cpu") ? Harness.Basis.CPU : Harness.Basis.WALL;
    }
}
