package io.shadowmmu.cluster.importer;

import io.shadowmmu.cluster.protocol.Span;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The unmaps of copied pages from the local processes that map them, each waiting for every process to answer, and
 * what to do once all did. While one covers a page, local faults on it wait. Plain state of the importer actor.
 */
final class LocalUnmaps {

    private record Pending(List<Span> spans, Runnable then, int answers) {
    }

    private final Map<Long, Pending> pending = new HashMap<>();
    private long next;

    /** Starts one unmap of {@code spans} that {@code processes} must answer; returns its id. */
    long start(List<Span> spans, Runnable then, int processes) {
        long id = next++;
        pending.put(id, new Pending(spans, then, processes));
        return id;
    }

    /**
     * One process answered unmap {@code id}. When it was the last, runs what waited and returns the spans it covered
     * (for the faults that waited on them); else null.
     */
    List<Span> answered(long id) {
        Pending p = pending.get(id);
        if (p == null) {
            return null;
        }
        if (p.answers() > 1) {
            pending.put(id, new Pending(p.spans(), p.then(), p.answers() - 1));
            return null;
        }
        pending.remove(id);
        p.then().run();
        return p.spans();
    }

    boolean covers(long page) {
        for (Pending p : pending.values()) {
            if (Span.anyContains(p.spans(), page)) {
                return true;
            }
        }
        return false;
    }
}
