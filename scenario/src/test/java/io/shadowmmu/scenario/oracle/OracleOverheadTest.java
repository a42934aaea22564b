package io.shadowmmu.scenario.oracle;

import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The oracle's cost per event, against the no-op sink, with one and with two threads feeding it the hot events of a
 * fault/invalidate cycle (allocate, install, remove, free) on disjoint frames. The quick form checks that the
 * oracle keeps exact books under concurrent load; with {@code -Dshadowmmu.stress=true} it runs longer and logs the
 * timings that docs/BENCHMARKS.md quotes to {@code target/oracle-overhead.txt} (the test log is only printed when a
 * test fails).
 */
class OracleOverheadTest {
    private static final boolean STRESS = Boolean.getBoolean("shadowmmu.stress");
    private static final int CYCLES = STRESS ? 2_000_000 : 100_000;
    private static final int FRAMES_PER_THREAD = 4_096;
    private static final int EVENTS_PER_CYCLE = 4;

    @Test
    void keepsExactBooksUnderConcurrentLoadAndReportsItsCost() throws InterruptedException, IOException {
        StringBuilder report = new StringBuilder();
        for (int threads = 1; threads <= 2; threads++) {
            double none = nanosPerEvent(CoherenceEvents.NONE, threads); // also warms the JIT for the loop
            CoherenceOracle oracle = new CoherenceOracle(16);
            double checked = nanosPerEvent(oracle, threads);

            assertThat(oracle.clean()).as("violations: %s", oracle.violations()).isTrue();
            assertThat(oracle.liveTranslations()).isZero();
            assertThat(oracle.eventsSeen()).isEqualTo((long) threads * CYCLES * EVENTS_PER_CYCLE);
            if (STRESS) {
                report.append(String.format("%d thread(s), %d cycles each: no-op sink %.1f ns/event, oracle %.1f ns/event%n",
                        threads, CYCLES, none, checked));
            }
        }
        if (STRESS) {
            Files.writeString(Path.of("target", "oracle-overhead.txt"), report, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        }
    }

    /** Wall-clock nanoseconds per event, all threads together. */
    private static double nanosPerEvent(CoherenceEvents sink, int threads) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t * FRAMES_PER_THREAD;
            long agent = AgentIds.next();
            Thread w = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (int i = 0; i < CYCLES; i++) {
                    int pfn = base + (i % FRAMES_PER_THREAD);
                    int gen = i / FRAMES_PER_THREAD + 1;
                    long va = (long) (i % FRAMES_PER_THREAD) << 12;
                    sink.frameAllocated(pfn, gen, 1);
                    sink.translationInstalled(agent, 0, 1, va, pfn, gen, true);
                    sink.translationRemoved(agent, 0, 1, va, pfn, gen);
                    sink.frameFreed(pfn, gen);
                }
            });
            workers.add(w);
            w.start();
        }
        long start = System.nanoTime();
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        return (System.nanoTime() - start) / (double) (threads * (long) CYCLES * EVENTS_PER_CYCLE);
    }
}
