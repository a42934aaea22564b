package io.shadowmmu.guest.workload;

import java.util.List;

/**
 * How to build a synthetic workload: the pattern, its length, its read/write mix and the pattern's parameters.
 * Together with a region and a seed it gives one deterministic stream ({@link #create}).
 *
 * @param writeFraction   share of accesses that are writes (0 = read only, 1 = write only)
 * @param stride          bytes between accesses of a sequential scan
 * @param zipfTheta       skew of the Zipf hot set, in (0, 1)
 * @param workingSetPages pages per phase of the phased workload
 * @param phaseLength     accesses per phase
 */
public record WorkloadSpec(WorkloadKind kind, long accesses, double writeFraction, long stride, double zipfTheta,
                           long workingSetPages, long phaseLength) {

    public static WorkloadSpec of(WorkloadKind kind, long accesses, double writeFraction) {
        return new WorkloadSpec(kind, accesses, writeFraction, 64, 0.99, 64, 20_000);
    }

    public WorkloadSpec withAccesses(long n) {
        return new WorkloadSpec(kind, n, writeFraction, stride, zipfTheta, workingSetPages, phaseLength);
    }

    public Workload create(Region region, long seed) {
        switch (kind) {
            case SEQUENTIAL:
                return new SequentialScan(region, accesses, writeFraction, stride, seed);
            case UNIFORM:
                return new UniformRandom(region, accesses, writeFraction, seed);
            case ZIPFIAN:
                return new ZipfianHotSet(region, accesses, writeFraction, zipfTheta, seed);
            case PHASED:
                return new PhasedWorkingSet(region, accesses, writeFraction,
                        Math.min(workingSetPages, region.pages()), phaseLength, seed);
            case MIXED:
                return mixed(region, seed);
            default:
                throw new IllegalArgumentException("unknown workload kind " + kind);
        }
    }

    /** Each part gets a quarter of the accesses and its own seed derived from {@code seed}. */
    private Workload mixed(Region region, long seed) {
        long quarter = accesses / 4;
        long first = accesses - 3 * quarter;
        List<Workload> parts = List.of(
                new SequentialScan(region, first, writeFraction, stride, seed + 1),
                new UniformRandom(region, quarter, writeFraction, seed + 2),
                new ZipfianHotSet(region, quarter, writeFraction, zipfTheta, seed + 3),
                new PhasedWorkingSet(region, quarter, writeFraction, Math.min(workingSetPages, region.pages()),
                        phaseLength, seed + 4));
        return new MixedWorkload(parts, 1_000, seed);
    }
}
