package io.shadowmmu.emulator.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Measures two loads side by side: in every round each runs fresh, settles, and is measured over one window; the
 * order alternates between rounds so that drift on a shared machine hits both alike. Runs on the CLI's main thread,
 * which waits out the windows (no actor thread ever waits).
 */
public final class Harness {
    private Harness() {
    }

    /**
     * Ours and the baseline, measured in the same rounds.
     *
     * @param ratios ours / baseline of each round (the two ran back to back, so they saw the same machine)
     */
    public record Comparison(Measurement ours, Measurement baseline, Measurement ratios) {
        /** The median of the per-round ratios: robust to a round that another process on the machine disturbed. */
        public double ratio() {
            java.util.List<Double> sorted = new java.util.ArrayList<>(ratios.samples());
            java.util.Collections.sort(sorted);
            int n = sorted.size();
            return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
        }
    }

    /** What a rate is per: elapsed time, or CPU time the whole process used (robust on a shared machine). */
    public enum Basis { WALL, CPU }

    public static Comparison compare(Supplier<Load> ours, Supplier<Load> baseline, BenchSizes sizes)
            throws InterruptedException {
        return compare(ours, baseline, sizes, Basis.WALL);
    }

    public static Comparison compare(Supplier<Load> ours, Supplier<Load> baseline, BenchSizes sizes, Basis basis)
            throws InterruptedException {
        List<Double> a = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        for (int round = 0; round < sizes.warmupRounds() + sizes.rounds(); round++) {
            boolean measured = round >= sizes.warmupRounds();
            boolean oursFirst = round % 2 == 0;
            double first = rate(oursFirst ? ours : baseline, sizes, basis);
            double second = rate(oursFirst ? baseline : ours, sizes, basis);
            if (measured) {
                a.add(oursFirst ? first : second);
                b.add(oursFirst ? second : first);
                ratios.add(a.get(a.size() - 1) / b.get(b.size() - 1));
            }
        }
        return new Comparison(new Measurement(a), new Measurement(b), new Measurement(ratios));
    }

    /** Operations per second (of elapsed or of process CPU time) of one fresh load over one window. */
    static double rate(Supplier<Load> factory, BenchSizes sizes, Basis basis) throws InterruptedException {
        try (Load load = factory.get()) {
            pause(sizes.settle());
            long c0 = load.completed();
            long t0 = basis == Basis.WALL ? System.nanoTime() : CPU.getProcessCpuTime();
            pause(sizes.window());
            long c1 = load.completed();
            long t1 = basis == Basis.WALL ? System.nanoTime() : CPU.getProcessCpuTime();
            return (c1 - c0) * 1e9 / Math.max(1, t1 - t0);
        }
    }

    private static final com.sun.management.OperatingSystemMXBean CPU =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                    .getOperatingSystemMXBean();

    /** The harness runs on the CLI's own thread, never on an actor's: waiting out a settle window here blocks no actor. */
    private static void pause(Duration d) throws InterruptedException {
        Thread.sleep(d.toMillis());
    }
}
