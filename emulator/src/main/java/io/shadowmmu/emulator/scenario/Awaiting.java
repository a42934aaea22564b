package io.shadowmmu.emulator.scenario;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Waits on the CLI's main thread (never an actor's) for a scenario's outcome, refreshing its progress display from
 * counters the actors update, five times a second, and sampling the run's time series once a second.
 */
public final class Awaiting {
    private Awaiting() {
    }

    public static <T> T outcome(ScenarioRun run, CompletableFuture<T> outcome, LongSupplier done, long total,
                                Supplier<String> status) throws Exception {
        while (true) {
            try {
                return outcome.get(200, TimeUnit.MILLISECONDS);
            } catch (TimeoutException stillRunning) {
                run.progress().update(done.getAsLong(), total, status.get());
                run.telemetry().maybeSample();
            }
        }
    }

    /** The status line every scenario shows: frames in use and violations so far. */
    public static String frames(ScenarioRun run, long framesInUse) {
        return String.format("frames in use %,d  violations %d", framesInUse, run.oracle().total());
    }
}
