package io.shadowmmu.testkit.fault;

import java.util.concurrent.atomic.AtomicLong;

/** What a {@link FaultyLink} did, readable from a test while it runs. */
public final class FaultCounters {
    final AtomicLong received = new AtomicLong();
    final AtomicLong delivered = new AtomicLong();
    final AtomicLong delayed = new AtomicLong();
    final AtomicLong duplicated = new AtomicLong();
    final AtomicLong reordered = new AtomicLong();
    final AtomicLong dropped = new AtomicLong();
    final AtomicLong slowReplies = new AtomicLong();

    public long received() {
        return received.get();
    }

    public long delivered() {
        return delivered.get();
    }

    public long delayed() {
        return delayed.get();
    }

    public long duplicated() {
        return duplicated.get();
    }

    public long reordered() {
        return reordered.get();
    }

    public long dropped() {
        return dropped.get();
    }

    public long slowReplies() {
        return slowReplies.get();
    }

    @Override
    public String toString() {
        return "received " + received() + ", delivered " + delivered() + ", delayed " + delayed() + ", duplicated "
                + duplicated() + ", reordered " + reordered() + ", dropped " + dropped() + ", slow replies "
                + slowReplies();
    }
}
