package io.shadowmmu.guest.workload;

/** Walks the region from start to end with a fixed stride and wraps around (a memset / array sweep). */
public final class SequentialScan extends SyntheticWorkload {
    private final long stride;
    private long offset;

    public SequentialScan(Region region, long accesses, double writeFraction, long stride, long seed) {
        super(region, accesses, writeFraction, seed);
        if (stride <= 0 || stride % WORD != 0) {
            throw new IllegalArgumentException("stride must be a positive multiple of 8: " + stride);
        }
        this.stride = stride;
    }

    @Override
    protected long nextAddress() {
        long va = region.base() + offset;
        offset += stride;
        if (offset >= region.length()) {
            offset = 0;
        }
        return va;
    }

    @Override
    public String name() {
        return "sequential";
    }
}
