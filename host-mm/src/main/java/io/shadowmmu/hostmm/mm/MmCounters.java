package io.shadowmmu.hostmm.mm;

import org.HdrHistogram.Histogram;

import java.util.HashMap;
import java.util.Map;

/** Mutable counters of one mm, written only by its actor. */
final class MmCounters {
    long anonZeroFill;
    long filePageIn;
    long cowCopy;
    long cowReuse;
    long permissionUpgrade;
    long segv;
    long sigbus;
    long oom;
    long oomWaits;
    long swapOut;
    long swapIn;
    long migrations;
    long ksmMerged;
    long ksmBroken;

    long ptesCleared;
    long invalidations;
    long batches;
    long messages;
    long acks;
    long nacks;
    long fences;
    long deaths;
    long ignoredReplies;

    final Map<Long, Long> messagesBySubscriber = new HashMap<>();
    /** Ack latency in microseconds, up to one hour, 2 significant digits. */
    final Histogram ackLatencyMicros = new Histogram(3_600_000_000L, 2);

    void sent(long subscription) {
        messages++;
        messagesBySubscriber.merge(subscription, 1L, Long::sum);
    }

    void acked(long startedNanos, long nowNanos) {
        acks++;
        ackLatencyMicros.recordValue(Math.max(0, Math.min((nowNanos - startedNanos) / 1000, 3_600_000_000L)));
    }

    MmStats snapshot(long mm, String name, long mappedPages, long pendingFree, int subscribers) {
        MmStats.Latency latency = ackLatencyMicros.getTotalCount() == 0 ? MmStats.Latency.EMPTY
                : new MmStats.Latency(ackLatencyMicros.getTotalCount(),
                ackLatencyMicros.getValueAtPercentile(50), ackLatencyMicros.getValueAtPercentile(99),
                ackLatencyMicros.getMaxValue());
        return new MmStats(mm, name,
                new MmStats.Faults(anonZeroFill, filePageIn, cowCopy, cowReuse, permissionUpgrade, segv, sigbus, oom),
                new MmStats.Pressure(swapOut, swapIn, migrations, ksmMerged, ksmBroken),
                new MmStats.Notifier(ptesCleared, invalidations, batches, messages, acks, nacks, fences, deaths,
                        ignoredReplies),
                latency, Map.copyOf(messagesBySubscriber), mappedPages, pendingFree, subscribers);
    }
}
