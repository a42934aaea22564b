package io.shadowmmu.emulator.report;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Time series on a clock the test drives: rates, ratios, gaps, and a sample at most once a second. */
class TelemetryTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    @SuppressWarnings("unchecked")
    void ratesAndRatiosAreOverTheLastIntervalAndGapsBecomeNull() {
        Telemetry t = new Telemetry(0);
        AtomicLong accesses = new AtomicLong();
        AtomicLong hits = new AtomicLong();
        AtomicLong lookups = new AtomicLong();
        t.rate(Telemetry.THROUGHPUT, "accesses/s", accesses::get);
        t.ratio(Telemetry.TLB_HIT_RATE, "vm0", hits::get, lookups::get);
        t.gauge(Telemetry.EVENTS, "violations", () -> 0);

        t.sampleAt(0); // primes
        accesses.set(500);
        hits.set(30);
        lookups.set(40);
        t.sampleAt(SECOND / 2); // too early: nothing
        t.sampleAt(2 * SECOND);
        accesses.set(800); // no lookups in this interval: the hit rate has a gap
        t.sampleAt(3 * SECOND);

        Map<String, Object> tree = t.toTree();
        assertThat((List<Double>) tree.get("seconds")).containsExactly(2.0, 3.0);
        Map<String, Map<String, List<Double>>> groups = (Map<String, Map<String, List<Double>>>) tree.get("groups");
        assertThat(groups.get(Telemetry.THROUGHPUT).get("accesses/s")).containsExactly(250.0, 300.0);
        assertThat(groups.get(Telemetry.TLB_HIT_RATE).get("vm0")).isEqualTo(Arrays.asList(75.0, null));
        assertThat(groups.get(Telemetry.EVENTS).get("violations")).containsExactly(0.0, 0.0);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aGaugeRegisteredLateIsPaddedAndClearedGaugesStopSampling() {
        Telemetry t = new Telemetry(0);
        t.gauge(Telemetry.EVENTS, "a", () -> 1);
        t.sampleAt(0);
        t.sampleAt(SECOND);
        t.gauge(Telemetry.EVENTS, "b", () -> 2);
        t.sampleAt(2 * SECOND);
        t.clearGauges();
        t.sampleAt(3 * SECOND);
        Map<String, Object> tree = t.toTree();
        assertThat(t.samples()).isEqualTo(2);
        Map<String, Map<String, List<Double>>> groups = (Map<String, Map<String, List<Double>>>) tree.get("groups");
        assertThat(groups.get(Telemetry.EVENTS).get("a")).containsExactly(1.0, 1.0);
        assertThat(groups.get(Telemetry.EVENTS).get("b")).isEqualTo(Arrays.asList(null, 2.0));
    }
}
