package io.shadowmmu.hostmm.mm;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Mutable counters of one mm, written only by its actor. */
public final class MmCounters {
    long anonZeroFill;
    long filePageIn;
    long cowCopy;
    long cowReuse;
    long permissionUpgrade;
    long segv;
    long sigbus;
    long oom;
    long oomWaits;
    long repliesDelayed;
    long swapOut;
    long swapIn;
    long migrations;
    long ksmMerged;
    long ksmBroken;

    long ptesCleared;
    public long invalidations;
    public long batches;
    long messages;
    long acks;
    public long nacks;
    public long fences;
    public long deaths;
    public long ignoredReplies;

    /** Notifications sent per subscription id; a counter cell per id, so counting boxes nothing (issue 16). */
    final Map<Long, long[]> messagesBySubscriber = new HashMap<>();
    /** Ack latency in microseconds, up to one hour, 2 significant digits. */
    final Histogram ackLatencyMicros = new Histogram(3_600_000_000L, 2);

    public void sent(long subscription) {
        messages++;
        long[] count = messagesBySubscriber.get(subscription);
        if (count == null) {
            count = new long[1];
            messagesBySubscriber.put(subscription, count);
        }
        count[0]++;
    }

    private Map<Long, Long> messageCounts() {
        Map<Long, Long> out = new HashMap<>();
        for (Map.Entry<Long, long[]> e : messagesBySubscriber.entrySet()) {
            out.put(e.getKey(), e.getValue()[0]);
        }
        return Map.copyOf(out);
    }

    public void acked(long startedNanos, long nowNanos) {
        acks++;
        ackLatencyMicros.recordValue(Math.max(0, Math.min((nowNanos - startedNanos) / 1000, 3_600_000_000L)));
    }

    /** The histogram in power-of-two buckets of microseconds (what a report draws). */
    private List<Long> log2Buckets() {
        List<Long> buckets = new ArrayList<>();
        for (HistogramIterationValue v : ackLatencyMicros.logarithmicBucketValues(1, 2.0)) {
            buckets.add(v.getCountAddedInThisIterationStep());
        }
        while (!buckets.isEmpty() && buckets.get(buckets.size() - 1) == 0) {
            buckets.remove(buckets.size() - 1);
        }
        return List.copyOf(buckets);
    }

    MmStats snapshot(long mm, String name, long mappedPages, long pendingFree, int subscribers) {
        MmStats.Latency latency = ackLatencyMicros.getTotalCount() == 0 ? MmStats.Latency.EMPTY
                : new MmStats.Latency(ackLatencyMicros.getTotalCount(),
                ackLatencyMicros.getValueAtPercentile(50), ackLatencyMicros.getValueAtPercentile(99),
                ackLatencyMicros.getMaxValue(), log2Buckets());
        return new MmStats(mm, name,
                new MmStats.Faults(anonZeroFill, filePageIn, cowCopy, cowReuse, permissionUpgrade, segv, sigbus, oom,
                        repliesDelayed),
                new MmStats.Pressure(swapOut, swapIn, migrations, ksmMerged, ksmBroken),
                new MmStats.Notifier(ptesCleared, invalidations, batches, messages, acks, nacks, fences, deaths,
                        ignoredReplies),
                latency, messageCounts(), mappedPages, pendingFree, subscribers);
    }
}
