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

    /**
     * A miss in a copying importer: copy {@code pages} pages from {@code firstPage} (all inside the segment) and
     * answer them in one {@link ToImporter.PagesCopied}. Faults a range, not a word: hits then stay on the importer.
     */
    record FetchRange(long attachment, long firstPage, int pages, boolean write, long sequence)
            implements ToProxy, CrossNode {
    }

    /**
     * What a copying importer wrote to pages it is dropping, sent just before the {@link InvalidateAck} (or the
     * {@link Detach}) that drops them, so it lands in the exporter's frames before the mm may reuse them.
     */
    record WriteBack(long attachment, java.util.List<PageWrite> pages) implements ToProxy, CrossNode {
    }

    /** The importer dropped everything invalidation {@code invalidation} named. */
    record InvalidateAck(long attachment, long invalidation) implements ToProxy, CrossNode {
    }

    /** XPMEM detach: the importer is done. */
    record Detach(long attachment) implements ToProxy, CrossNode {
    }
}
