package io.shadowmmu.guest.workload;

/**
 * A program that works on one set of pages for a while, then moves on (compiler passes, a batch job's stages): each
 * phase draws uniformly from {@code workingSetPages} consecutive pages, and the next phase's set starts where the
 * previous one ended, wrapping around the region.
 */
public final class PhasedWorkingSet extends SyntheticWorkload {
    private final long workingSetPages;
    private final long phaseLength;
    private long inPhase;
    private long firstPage;

    public PhasedWorkingSet(Region region, long accesses, double writeFraction, long workingSetPages,
                            long phaseLength, long seed) {
        super(region, accesses, writeFraction, seed);
        if (workingSetPages <= 0 || workingSetPages > region.pages()) {
            throw new IllegalArgumentException("working set must be 1.." + region.pages() + " pages: "
                    + workingSetPages);
        }
        if (phaseLength <= 0) {
            throw new IllegalArgumentException("phase length must be positive: " + phaseLength);
        }
        this.workingSetPages = workingSetPages;
        this.phaseLength = phaseLength;
    }

    @Override
    protected long nextAddress() {
        if (inPhase == phaseLength) {
            inPhase = 0;
            firstPage = (firstPage + workingSetPages) % region.pages();
        }
        inPhase++;
        long page = (firstPage + random.nextLong(workingSetPages)) % region.pages();
        return randomWordIn(page);
    }

    @Override
    public String name() {
        return "phased";
    }
}
