package io.shadowmmu.emulator.report;

import io.shadowmmu.hostmm.mm.MmStats;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The invalidation ack latency of several host processes as one histogram, in power-of-two microsecond buckets. */
public final class AckHistogram {
    private AckHistogram() {
    }

    /** Rows {@code {upToMicros, count}}: acks of at most {@code upToMicros} and more than the row before's bound. */
    public static List<Map<String, Object>> rows(Iterable<MmStats> processes) {
        List<Long> sum = new ArrayList<>();
        for (MmStats s : processes) {
            List<Long> buckets = s.ackLatency().log2Buckets();
            for (int i = 0; i < buckets.size(); i++) {
                if (sum.size() <= i) {
                    sum.add(0L);
                }
                sum.set(i, sum.get(i) + buckets.get(i));
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < sum.size(); i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("upToMicros", 1L << i);
            row.put("count", sum.get(i));
            rows.add(row);
        }
        return rows;
    }
}
