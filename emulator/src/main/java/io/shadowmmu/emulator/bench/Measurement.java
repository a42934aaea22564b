package io.shadowmmu.emulator.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rates measured over several rounds of one configuration: their mean and spread (sample standard deviation).
 *
 * @param samples operations per second of each measured round
 */
public record Measurement(List<Double> samples) {

    public double mean() {
        double sum = 0;
        for (double s : samples) {
            sum += s;
        }
        return samples.isEmpty() ? Double.NaN : sum / samples.size();
    }

    /** Sample standard deviation; 0 with a single sample. */
    public double spread() {
        if (samples.size() < 2) {
            return 0;
        }
        double m = mean();
        double sq = 0;
        for (double s : samples) {
            sq += (s - m) * (s - m);
        }
        return Math.sqrt(sq / (samples.size() - 1));
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", mean());
        m.put("spread", spread());
        m.put("samples", samples);
        return m;
    }
}
