package io.shadowmmu.hostmm.mm;

import java.util.concurrent.atomic.AtomicLong;

/** mm ids, unique within a JVM (a host's process ids). */
public final class MmIds {
    private static final AtomicLong NEXT = new AtomicLong(1);

    private MmIds() {
    }

    public static long next() {
        return NEXT.getAndIncrement();
    }
}
