package io.shadowmmu.guest.workload;

/** Every word of the region is equally likely: the worst case for a TLB. */
public final class UniformRandom extends SyntheticWorkload {
    public UniformRandom(Region region, long accesses, double writeFraction, long seed) {
        super(region, accesses, writeFraction, seed);
    }

    @Override
    protected long nextAddress() {
        return randomWordIn(random.nextLong(region.pages()));
    }

    @Override
    public String name() {
        return "uniform";
    }
}
