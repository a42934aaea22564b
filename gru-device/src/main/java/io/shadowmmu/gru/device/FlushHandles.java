package io.shadowmmu.gru.device;

/**
 * The device's TLB flush handles (the GRU's TGHs). A range flush occupies one handle from issue to completion;
 * the device issues the flushes of one notification back to back and acknowledges only after all completed, so a
 * notification with more ranges than handles waits for the oldest flush to finish before issuing the next (counted,
 * the way a CPU polls a busy handle). Nothing outlives the handler: the invalidation is atomic.
 */
final class FlushHandles {
    private final int count;
    private int busy;
    private long waits;

    FlushHandles(int count) {
        this.count = count;
    }

    /** Takes a handle for one flush command, waiting for the oldest in flight when none is free. */
    void acquire() {
        if (busy == count) {
            waits++;
            busy--; // the oldest command completes: hardware purges in bounded time
        }
        busy++;
    }

    /** Every command issued so far has completed (before the acknowledgement). */
    void drain() {
        busy = 0;
    }

    int busy() {
        return busy;
    }

    long waits() {
        return waits;
    }
}
