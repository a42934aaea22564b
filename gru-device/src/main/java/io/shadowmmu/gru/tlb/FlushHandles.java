package io.shadowmmu.gru.tlb;

import java.util.ArrayDeque;

/**
 * The device's TLB flush handles (the GRU's TFHs, {@code gru_get_tfh}): a fixed pool. A flush takes a free handle
 * and issues its command on it; the handle stays busy until the device reports the command complete
 * ({@link #completed}). A flush that finds every handle busy waits in FIFO order and is issued on the next handle
 * that completes; nothing blocks, the owner just hears later that its flush ran.
 *
 * <p>Invariant: flushes wait only while every handle is busy (a completing handle goes straight to the oldest
 * waiter). Owned by one actor; not thread-safe.
 *
 * @param <J> one flush command's description
 */
public final class FlushHandles<J> {

    /** Issues {@code job} on {@code handle}: runs its flush and arranges for {@link #completed} to be called. */
    public interface Issuer<J> {
        void issue(int handle, J job);
    }

    private final Issuer<J> issuer;
    private final int[] free;
    private final boolean[] busy;
    private final ArrayDeque<J> waiting = new ArrayDeque<>();
    private int freeCount;
    private long issued;
    private long waits;
    private int mostWaiting;

    public FlushHandles(int count, Issuer<J> issuer) {
        if (count <= 0) {
            throw new IllegalArgumentException("flush handles must be positive: " + count);
        }
        this.issuer = issuer;
        this.free = new int[count];
        this.busy = new boolean[count];
        for (int h = 0; h < count; h++) {
            free[h] = count - 1 - h; // handle 0 is taken first
        }
        this.freeCount = count;
    }

    /**
     * Issues {@code job} on a free handle now (true), or queues it until one completes (false: the wait is counted).
     */
    public boolean submit(J job) {
        if (freeCount > 0) {
            int h = free[--freeCount];
            busy[h] = true;
            issue(h, job);
            return true;
        }
        waits++;
        waiting.add(job);
        mostWaiting = Math.max(mostWaiting, waiting.size());
        return false;
    }

    /** The command on {@code handle} completed: the handle serves the oldest waiting flush, or becomes free. */
    public void completed(int handle) {
        if (handle < 0 || handle >= busy.length || !busy[handle]) {
            throw new IllegalStateException("flush handle " + handle + " completed but was not busy");
        }
        J next = waiting.poll();
        if (next != null) {
            issue(handle, next);
            return;
        }
        busy[handle] = false;
        free[freeCount++] = handle;
    }

    private void issue(int handle, J job) {
        issued++;
        issuer.issue(handle, job);
    }

    public int count() {
        return busy.length;
    }

    public int busy() {
        return busy.length - freeCount;
    }

    /** Flushes waiting for a handle now. */
    public int waiting() {
        return waiting.size();
    }

    /** Flushes that found every handle busy and waited. */
    public long waits() {
        return waits;
    }

    /** Flush commands issued so far. */
    public long issued() {
        return issued;
    }

    /** The longest the queue of waiting flushes has been. */
    public int mostWaiting() {
        return mostWaiting;
    }
}
