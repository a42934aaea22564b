package io.shadowmmu.emulator.bench;

import java.time.Duration;

/**
 * How long and how wide the benchmarks run.
 *
 * @param window            one measured window
 * @param settle            run time of a fresh load before its window opens (JIT, mailboxes, first faults)
 * @param warmupRounds      rounds run and discarded first
 * @param rounds            measured rounds; ours and the baseline alternate within each
 * @param processes         mms of the delivery comparison
 * @param workersPerProcess concurrent workers (threads or actors) per mm in the delivery comparison
 * @param pagesPerOp        pages one delivery-comparison operation discards and refaults
 * @param faultRegionPages  pages the fault round trip faults in before it discards them and starts over
 * @param cyclePages        pages one mmap/fault/munmap cycle of the zero-subscriber row touches
 * @param jmhWarmups        JMH warm-up iterations of the TLB row
 * @param jmhIterations     JMH measurement iterations
 * @param jmhTime           JMH iteration time
 * @param jmhFork           run JMH in a forked JVM (false only for the smoke configuration of tests)
 */
public record BenchSizes(Duration window, Duration settle, int warmupRounds, int rounds, int processes,
                         int workersPerProcess, int pagesPerOp, int faultRegionPages, int cyclePages,
                         int jmhWarmups, int jmhIterations, Duration jmhTime, boolean jmhFork) {

    public static BenchSizes full() {
        return new BenchSizes(Duration.ofMillis(500), Duration.ofMillis(200), 2, 30, 4, 16, 4, 32768, 16,
                5, 10, Duration.ofSeconds(2), true);
    }

    public static BenchSizes quick() {
        return new BenchSizes(Duration.ofMillis(300), Duration.ofMillis(150), 2, 10, 4, 16, 4, 32768, 16,
                2, 3, Duration.ofSeconds(1), true);
    }

    /** Seconds, not minutes: for tests that check every row produces numbers, never for figures. */
    public static BenchSizes smoke() {
        return new BenchSizes(Duration.ofMillis(100), Duration.ofMillis(30), 0, 1, 2, 2, 2, 64, 4,
                0, 1, Duration.ofMillis(100), false);
    }
}
