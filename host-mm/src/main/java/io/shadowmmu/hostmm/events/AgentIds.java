package io.shadowmmu.hostmm.events;

import java.util.concurrent.atomic.AtomicLong;

/** Hands out agent ids, unique within a JVM, for events and stories. */
public final class AgentIds {
    private static final AtomicLong NEXT = new AtomicLong(1);

    private AgentIds() {
    }

    public static long next() {
        return NEXT.getAndIncrement();
    }
}
