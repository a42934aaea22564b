package io.shadowmmu.cluster.exporter;

import org.HdrHistogram.Histogram;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What the exporters of one node did, shared by its attachment actors and read by scenarios and tests from other
 * threads. The ack latency is the cross-node round trip of a sleeping invalidation: sent to the importer until its
 * ack arrived.
 */
public final class ExporterCounters {
    public final AtomicLong attaches = new AtomicLong();
    public final AtomicLong faults = new AtomicLong();
    public final AtomicLong faultRetries = new AtomicLong();
    /** Fault answers sent (or, with a fault-reply delay, put on their way) to importers. */
    public final AtomicLong faultsAnswered = new AtomicLong();
    public final AtomicLong accesses = new AtomicLong();
    /** Pages copied to importers that map by ranges. */
    public final AtomicLong pagesCopied = new AtomicLong();
    /** Copied pages whose changes came back and landed in their frame. */
    public final AtomicLong writtenBack = new AtomicLong();
    /** Written-back pages that arrived after the attachment was fenced: lost with it. */
    public final AtomicLong refusedWriteBacks = new AtomicLong();
    public final AtomicLong staleAccesses = new AtomicLong();
    public final AtomicLong refusedAccesses = new AtomicLong();
    /** InvalidateStart/Release messages the mms sent to attachments (local batches). */
    public final AtomicLong batches = new AtomicLong();
    /** Invalidate messages sent across the network (each carries one or more batches). */
    public final AtomicLong invalidationsSent = new AtomicLong();
    /** Batches that rode along with another in one message (they queued while one was in flight). */
    public final AtomicLong coalesced = new AtomicLong();
    public final AtomicLong acks = new AtomicLong();
    public final AtomicLong fencedByDeadline = new AtomicLong();
    public final AtomicLong fencedByNodeLoss = new AtomicLong();
    public final AtomicLong detached = new AtomicLong();
    /**
     * Most Invalidate messages ever in flight to one importer at once, counted from sends and acks (the setting
     * {@code cluster.invalidations-in-flight} bounds it; 1 by default).
     */
    public final AtomicLong maxInFlight = new AtomicLong();
    private final Histogram ackLatencyMicros = new Histogram(60_000_000L, 3);

    public void ackLatency(long nanos) {
        synchronized (ackLatencyMicros) {
            ackLatencyMicros.recordValue(Math.max(0, Math.min(nanos / 1_000, 60_000_000L)));
        }
    }

    /** A copy of the latency histogram (microseconds). */
    public Histogram ackLatencyMicros() {
        synchronized (ackLatencyMicros) {
            return ackLatencyMicros.copy();
        }
    }

    public long fences() {
        return fencedByDeadline.get() + fencedByNodeLoss.get();
    }
}
