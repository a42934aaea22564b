package io.shadowmmu.cluster.protocol;

import akka.actor.typed.ActorRef;

/** Messages the exporter-side end of one attachment receives from its importer, across the network. */
public interface ToProxy {
    long attachment();

    /**
     * A miss in the importer table: fault {@code page} in on the exporter's mm.
     *
     * @param sequence the importer's invalidation sequence when it asked, echoed in the reply so the importer can
     *                 tell a reply that raced an invalidation
     */
    record Fault(long attachment, long page, boolean write, long sequence) implements ToProxy, CrossNode {
    }

    /**
     * One 8-byte access through an importer translation, carried to the frame's node (the interconnect). The
     * exporter checks {@code generation} against the frame's, so a stale translation is caught where the frame is.
     */
    record Access(long attachment, long va, long offset, int pfn, int generation, boolean write, long value,
                  ActorRef<AccessResult> replyTo) implements ToProxy, CrossNode {
    }

    /** The importer dropped everything invalidation {@code invalidation} named. */
    record InvalidateAck(long attachment, long invalidation) implements ToProxy, CrossNode {
    }

    /** XPMEM detach: the importer is done. */
    record Detach(long attachment) implements ToProxy, CrossNode {
    }
}
