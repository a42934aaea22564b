package io.shadowmmu.guest.workload;

import java.util.SplittableRandom;

/**
 * Common part of the generated workloads: a region, a number of 8-byte accesses, a seeded generator and a write
 * fraction (the read/write mix). Subclasses only choose the next address.
 */
public abstract class SyntheticWorkload implements Workload {
    /** Synthetic accesses are whole aligned words, like the guest's golden copy. */
    public static final int WORD = 8;

    protected final Region region;
    protected final SplittableRandom random;
    private final double writeFraction;
    private long remaining;

    protected SyntheticWorkload(Region region, long accesses, double writeFraction, long seed) {
        if (accesses < 0) {
            throw new IllegalArgumentException("accesses must not be negative: " + accesses);
        }
        if (!(writeFraction >= 0.0 && writeFraction <= 1.0)) {
            throw new IllegalArgumentException("write fraction must be in [0, 1]: " + writeFraction);
        }
        this.region = region;
        this.remaining = accesses;
        this.writeFraction = writeFraction;
        this.random = new SplittableRandom(seed);
    }

    @Override
    public final boolean fill(AccessBatch batch) {
        while (remaining > 0 && !batch.isFull()) {
            long va = nextAddress();
            byte kind = random.nextDouble() < writeFraction ? AccessBatch.STORE : AccessBatch.LOAD;
            batch.add(va, kind, WORD);
            remaining--;
        }
        return remaining > 0;
    }

    @Override
    public final long remaining() {
        return remaining;
    }

    /** The next word-aligned address inside the region. */
    protected abstract long nextAddress();

    /** A random aligned word inside page {@code page} of the region. */
    protected final long randomWordIn(long page) {
        return region.base() + page * Region.PAGE_SIZE + (long) random.nextInt((int) (Region.PAGE_SIZE / WORD)) * WORD;
    }
}
