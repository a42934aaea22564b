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

    /** Ours and the baseline, measured in the same rounds. */
    public record Comparison(Measurement ours, Measurement baseline) {
        public double ratio() {
            return ours.mean() / baseline.mean();
        }
    }

    public static Comparison compare(Supplier<Load> ours, Supplier<Load> baseline, BenchSizes sizes)
            throws InterruptedException {
        List<Double> a = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        for (int round = 0; round < sizes.warmupRounds() + sizes.rounds(); round++) {
            boolean measured = round >= sizes.warmupRounds();
            boolean oursFirst = round % 2 == 0;
            double first = rate(oursFirst ? ours : baseline, sizes);
            double second = rate(oursFirst ? baseline : ours, sizes);
            if (measured) {
                a.add(oursFirst ? first : second);
                b.add(oursFirst ? second : first);
            }
        }
        return new Comparison(new Measurement(a), new Measurement(b));
    }

    /** Operations per second of one fresh load over one window. */
    static double rate(Supplier<Load> factory, BenchSizes sizes) throws InterruptedException {
        try (Load load = factory.get()) {
            pause(sizes.settle());
            long c0 = load.completed();
            long t0 = System.nanoTime();
            pause(sizes.window());
            long c1 = load.completed();
            long t1 = System.nanoTime();
            return (c1 - c0) * 1e9 / (t1 - t0);
        }
    }

    private static void pause(Duration d) throws InterruptedException {
        Thread.sleep(d.toMillis());
    }
}
