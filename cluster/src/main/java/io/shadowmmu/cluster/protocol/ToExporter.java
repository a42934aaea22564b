package io.shadowmmu.cluster.protocol;

import akka.actor.typed.ActorRef;

/**
 * Messages an exporter (one per node, found through the Receptionist) receives. Those that cross nodes are records
 * also marked {@link CrossNode}; the exporter's local commands are not, so they can never be sent from elsewhere.
 */
public interface ToExporter {

    /** XPMEM get + attach: the importer wants segment {@code segment}; the answer goes to {@code importer}. */
    record Attach(long segment, ActorRef<ToImporter> importer) implements ToExporter, CrossNode {
    }
}
