package io.shadowmmu.emulator.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * Time series of a run, sampled about once a second on the CLI's main thread from counters the actors publish.
 * A scenario registers what it can measure (a gauge read as is, or a counter turned into a per-second rate), in
 * named groups that the report draws one chart each; a scenario that registers nothing has no series.
 */
public final class Telemetry {
    /** Throughput series: work done per second. */
    public static final String THROUGHPUT = "throughput";
    /** Faults, invalidations and violations per second or so far. */
    public static final String EVENTS = "events";
    /** TLB hit rate per VM over the last interval, in percent. */
    public static final String TLB_HIT_RATE = "tlbHitRate";

    private static final long INTERVAL_NANOS = 1_000_000_000L;

    private final long started;
    private final List<Double> seconds = new ArrayList<>();
    private final Map<String, Map<String, List<Double>>> groups = new LinkedHashMap<>();
    private final Map<String, Gauge> gauges = new LinkedHashMap<>();
    private long lastSample = Long.MIN_VALUE;

    public Telemetry() {
        this(System.nanoTime());
    }

    /** Series whose time axis starts at {@code startedNanos} on {@link System#nanoTime}'s clock. */
    Telemetry(long startedNanos) {
        this.started = startedNanos;
    }

    /** A value sampled as it is (for example violations so far). */
    public void gauge(String group, String name, DoubleSupplier value) {
        gauges.put(group + "\u0000" + name, new Gauge(group, name, now -> value.getAsDouble()));
    }

    /** A monotone counter drawn as its increase per second between two samples. */
    public void rate(String group, String name, LongSupplier counter) {
        gauges.put(group + "\u0000" + name, new Gauge(group, name, new Rate(counter)));
    }

    /**
     * The ratio of two monotone counters' increases between samples, in percent (a hit rate over the last
     * interval); no value (NaN, drawn as a gap) when neither moved.
     */
    public void ratio(String group, String name, LongSupplier part, LongSupplier whole) {
        gauges.put(group + "\u0000" + name, new Gauge(group, name, new Ratio(part, whole)));
    }

    /** Stops sampling every gauge registered so far (a phase of the run is over); the series stay. */
    public void clearGauges() {
        gauges.clear();
    }

    /** Takes a sample when a second has passed since the last one (the first call only primes the rates). */
    public void maybeSample() {
        sampleAt(System.nanoTime());
    }

    /** {@link #maybeSample} at a given time of {@link System#nanoTime}'s clock. */
    void sampleAt(long now) {
        if (lastSample != Long.MIN_VALUE && now - lastSample < INTERVAL_NANOS) {
            return;
        }
        boolean first = lastSample == Long.MIN_VALUE;
        lastSample = now;
        if (gauges.isEmpty()) {
            return;
        }
        if (first) {
            for (Gauge g : gauges.values()) {
                g.value.read(now); // primes rates and ratios: their first interval starts here
            }
            return;
        }
        int index = seconds.size();
        seconds.add(Math.round((now - started) / 1e8) / 10.0);
        for (Gauge g : gauges.values()) {
            List<Double> series = groups.computeIfAbsent(g.group, k -> new LinkedHashMap<>())
                    .computeIfAbsent(g.name, k -> new ArrayList<>());
            while (series.size() < index) {
                series.add(Double.NaN); // registered late: nothing measured before
            }
            series.add(g.value.read(now));
        }
    }

    public int samples() {
        return seconds.size();
    }

    /**
     * The series for the JSON: {@code seconds} (since the run started) and {@code groups.<group>.<name>}, each as
     * long as {@code seconds} (null where there was no value).
     */
    public Map<String, Object> toTree() {
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("seconds", List.copyOf(seconds));
        Map<String, Object> g = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, List<Double>>> group : groups.entrySet()) {
            Map<String, Object> named = new LinkedHashMap<>();
            for (Map.Entry<String, List<Double>> s : group.getValue().entrySet()) {
                List<Double> values = new ArrayList<>();
                for (int i = 0; i < seconds.size(); i++) {
                    Double v = i < s.getValue().size() ? s.getValue().get(i) : null;
                    values.add(v == null || v.isNaN() || v.isInfinite() ? null : Math.round(v * 100) / 100.0);
                }
                named.put(s.getKey(), values);
            }
            g.put(group.getKey(), named);
        }
        tree.put("groups", g);
        return tree;
    }

    /** A value read at a time (rates need the time of each read). */
    private interface Reading {
        double read(long nowNanos);
    }

    private record Gauge(String group, String name, Reading value) {
    }

    private static final class Rate implements Reading {
        private final LongSupplier counter;
        private boolean primed;
        private long last;
        private long lastNanos;

        Rate(LongSupplier counter) {
            this.counter = counter;
        }

        @Override
        public double read(long now) {
            long value = counter.getAsLong();
            double rate = !primed ? Double.NaN : (value - last) * 1e9 / Math.max(1, now - lastNanos);
            primed = true;
            last = value;
            lastNanos = now;
            return rate;
        }
    }

    private static final class Ratio implements Reading {
        private final LongSupplier part;
        private final LongSupplier whole;
        private long lastPart;
        private long lastWhole;

        Ratio(LongSupplier part, LongSupplier whole) {
            this.part = part;
            this.whole = whole;
        }

        @Override
        public double read(long now) {
            long p = part.getAsLong();
            long w = whole.getAsLong();
            long dw = w - lastWhole;
            double ratio = dw <= 0 ? Double.NaN : 100.0 * (p - lastPart) / dw;
            lastPart = p;
            lastWhole = w;
            return ratio;
        }
    }
}
