package io.shadowmmu.cluster.protocol;

import akka.actor.typed.ActorRef;

import java.util.List;

/** Messages an importer receives: answers and invalidations from the exporter's node, and local commands. */
public interface ToImporter {

    /** The attachment exists; faults and accesses go to {@code proxy}. */
    record Attached(long segment, long attachment, ActorRef<ToProxy> proxy, long start, long length,
                    boolean writable) implements ToImporter, CrossNode {
    }

    record AttachRefused(long segment, String reason) implements ToImporter, CrossNode {
    }

    /** Answer to a fault: the page's frame on the exporter's node, with the sequence the importer sent. */
    record FaultGranted(long attachment, long page, int pfn, int generation, boolean writable, long sequence)
            implements ToImporter, CrossNode {
    }

    /**
     * Answer to {@link ToProxy.FetchRange}: the pages copied (a page the mm refused is left out and named in
     * {@code denied} with why), with the sequence the importer sent.
     */
    record PagesCopied(long attachment, long firstPage, int pages, List<PageCopy> copies, List<Long> denied,
                       String deniedReason, long sequence) implements ToImporter, CrossNode {
    }

    record FaultDenied(long attachment, long page, String reason) implements ToImporter, CrossNode {
    }

    /**
     * Drop every translation in {@code spans} and acknowledge with {@link ToProxy.InvalidateAck}. One of these is in
     * flight per importer at a time; whatever the exporter's mm invalidates meanwhile is coalesced into the next.
     */
    record Invalidate(long attachment, long invalidation, List<Span> spans) implements ToImporter, CrossNode {
    }

    /** The exporter gave up on this attachment (no ack in time, node loss, the process exited): attach again. */
    record Fenced(long attachment, String reason) implements ToImporter, CrossNode {
    }
}
