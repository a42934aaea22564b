package io.shadowmmu.gru.tlb;

/**
 * The device's TLB flush handles (the GRU's TFHs): a range flush is issued on a free handle and holds it until the
 * device reports completion. A flush that finds every handle busy waits for the oldest one to complete (the kernel
 * polls the handle's status; here the device completes it in order), and the wait is counted.
 */
public final class FlushHandles {
    private final int count;
    private int busy;
    private long waits;

    public FlushHandles(int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("flush handles must be positive: " + count);
        }
        this.count = count;
    }

    /** Takes a handle for one flush; returns true when it had to wait for one to complete first. */
    public boolean acquire() {
        if (busy < count) {
            busy++;
            return false;
        }
        waits++; // the oldest flush completes and hands its handle over
        return true;
    }

    /** Every issued flush has completed (the end of one notification's flushes). */
    public void completeAll() {
        busy = 0;
    }

    public int busy() {
        return busy;
    }

    public long waits() {
        return waits;
    }
}
