package io.shadowmmu.hostmm.swap;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The swap device: slots holding page contents, shared by every mm of a host. A slot is referenced by each swap PTE
 * that names it (fork duplicates them, {@code swap_duplicate}); the last reference frees it.
 */
public final class SwapStore {
    private static final class Slot {
        volatile long[] contents;
        final AtomicInteger refs = new AtomicInteger(1);
    }

    private final ConcurrentHashMap<Long, Slot> slots = new ConcurrentHashMap<>();
    private final AtomicLong nextSlot = new AtomicLong(1);
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong reads = new AtomicLong();

    /** Reserves a slot with one reference; its contents come with {@link #write}. */
    public long reserve() {
        long slot = nextSlot.getAndIncrement();
        slots.put(slot, new Slot());
        return slot;
    }

    public void write(long slot, long[] contents) {
        Slot s = slots.get(slot);
        if (s == null) {
            return; // every swap PTE naming it went away before the write-back
        }
        s.contents = contents;
        writes.incrementAndGet();
    }

    /** Contents of a slot, or null when they were never written (the caller must wait or fail). */
    public long[] read(long slot) {
        Slot s = slots.get(slot);
        if (s == null) {
            return null;
        }
        reads.incrementAndGet();
        return s.contents;
    }

    /** Contents of a slot without counting a read (a comparison, not a swap-in); null when never written. */
    public long[] peek(long slot) {
        Slot s = slots.get(slot);
        return s == null ? null : s.contents;
    }

    public boolean written(long slot) {
        Slot s = slots.get(slot);
        return s != null && s.contents != null;
    }

    public void duplicate(long slot) {
        Slot s = slots.get(slot);
        if (s != null) {
            s.refs.incrementAndGet();
        }
    }

    public void free(long slot) {
        Slot s = slots.get(slot);
        if (s != null && s.refs.decrementAndGet() == 0) {
            slots.remove(slot);
        }
    }

    public long usedSlots() {
        return slots.size();
    }

    public long writes() {
        return writes.get();
    }

    public long reads() {
        return reads.get();
    }
}
