package io.shadowmmu.cluster.exporter;

import io.shadowmmu.cluster.protocol.PageCopy;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.cluster.protocol.ToProxy;

import java.util.ArrayList;
import java.util.List;

/** One {@link ToProxy.FetchRange} being answered: a page copied or refused at a time, one reply at the end. */
final class RangeFetch {
    final long id;
    final ToProxy.FetchRange request;
    private final List<PageCopy> copies = new ArrayList<>();
    private final List<Long> denied = new ArrayList<>();
    private String deniedReason;
    private int remaining;

    RangeFetch(long id, ToProxy.FetchRange request) {
        this.id = id;
        this.request = request;
        this.remaining = request.pages();
    }

    /** @return true when this was the last page */
    boolean copied(PageCopy copy) {
        copies.add(copy);
        return --remaining == 0;
    }

    /** @return true when this was the last page */
    boolean denied(long page, String why) {
        denied.add(page);
        if (deniedReason == null) {
            deniedReason = why;
        }
        return --remaining == 0;
    }

    ToImporter.PagesCopied reply() {
        return new ToImporter.PagesCopied(request.attachment(), request.firstPage(), request.pages(),
                List.copyOf(copies), List.copyOf(denied), deniedReason, request.sequence());
    }
}
