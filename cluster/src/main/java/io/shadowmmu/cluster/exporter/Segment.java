package io.shadowmmu.cluster.exporter;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;

/**
 * An exported range of one process ({@code xpmem_make}): [start, start + length) of mm {@code mmId}.
 */
public record Segment(long id, ActorRef<MmCommand> mm, long mmId, long start, long length, boolean writable) {
    public long end() {
        return start + length;
    }

    public boolean containsPage(long page) {
        return page >= start && page < end();
    }
}
