package io.shadowmmu.emulator.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of the performance table (DESIGN.md section 7): our figure next to its baseline or limit, measured in the
 * same run, their ratio, the target and whether it was met.
 *
 * @param key         JSON key
 * @param title       what the row measures
 * @param unit        unit of both figures
 * @param baselineName what the baseline is
 * @param ratio       ours / baseline: the median of the per-round ratios (JMH: the ratio of the scores)
 * @param ratioSpread spread of the per-round ratios
 * @param minRatio    the target: ours / baseline at least this
 * @param target      the target as the issue words it
 * @param rounds      the per-round figures behind the row, or null (JMH)
 */
public record BenchRow(String key, String title, String unit, double ours, double oursSpread, String baselineName,
                       double baseline, double baselineSpread, double ratio, double ratioSpread, double minRatio,
                       String target, Harness.Comparison rounds) {

    public static BenchRow of(String key, String title, String unit, Harness.Comparison c, String baselineName,
                              double minRatio, String target) {
        return new BenchRow(key, title, unit, c.ours().mean(), c.ours().spread(), baselineName,
                c.baseline().mean(), c.baseline().spread(), c.ratio(), c.ratios().spread(), minRatio, target, c);
    }

    public boolean met() {
        return ratio >= minRatio;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("title", title);
        m.put("unit", unit);
        m.put("ours", ours);
        m.put("oursSpread", oursSpread);
        m.put("baselineName", baselineName);
        m.put("baseline", baseline);
        m.put("baselineSpread", baselineSpread);
        m.put("ratio", ratio);
        m.put("ratioSpread", ratioSpread);
        m.put("minRatio", minRatio);
        m.put("target", target);
        m.put("met", met());
        if (rounds != null) {
            m.put("oursRounds", rounds.ours().samples());
            m.put("baselineRounds", rounds.baseline().samples());
            m.put("ratioRounds", rounds.ratios().samples());
        }
        return m;
    }
}
