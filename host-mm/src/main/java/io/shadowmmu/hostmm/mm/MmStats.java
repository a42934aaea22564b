package io.shadowmmu.hostmm.mm;

import java.util.Map;

/**
 * A snapshot of one mm's counters.
 *
 * @param faults               faults by kind
 * @param notifier             what the notifier sent and received
 * @param ackLatency           ack latency percentiles, microseconds
 * @param messagesBySubscriber notifications sent to each subscription id
 */
public record MmStats(long mm, String name, Faults faults, Pressure pressure, Notifier notifier, Latency ackLatency,
                      Map<Long, Long> messagesBySubscriber, long mappedPages, long pendingFreeFrames,
                      int subscribers) {

    /** Faults by kind ({@code VM_FAULT_*} outcomes). */
    public record Faults(long anonZeroFill, long filePageIn, long cowCopy, long cowReuse, long permissionUpgrade,
                         long segv, long sigbus, long oom) {
        public long total() {
            return anonZeroFill + filePageIn + cowCopy + cowReuse + permissionUpgrade + segv + sigbus + oom;
        }
    }

    /** Memory-pressure work done on this mm's pages. */
    public record Pressure(long swappedOut, long swappedIn, long migrations, long ksmMerged, long ksmBroken) {
    }

    /**
     * @param invalidations operations that changed PTEs some subscriber had to hear about
     * @param batches       pending-free batches opened
     * @param messages      notification messages sent (starts, ends, young queries, releases)
     * @param ignoredReplies acks and nacks not counted: duplicates, or late ones for a batch already settled
     */
    public record Notifier(long ptesCleared, long invalidations, long batches, long messages, long acks, long nacks,
                           long fences, long deaths, long ignoredReplies) {
    }

    public record Latency(long count, long p50Micros, long p99Micros, long maxMicros) {
        public static final Latency EMPTY = new Latency(0, 0, 0, 0);
    }
}
