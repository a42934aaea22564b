package io.shadowmmu.guest.workload;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Interleaves several workloads in runs of {@code runLength} accesses, choosing the next one with a seeded
 * generator: a process that alternates between scanning, random lookups and a hot set.
 */
public final class MixedWorkload implements Workload {
    private final Workload[] parts;
    private final SplittableRandom random;
    private final int runLength;
    private final AccessBatch run;
    private int cursor;

    public MixedWorkload(List<Workload> parts, int runLength, long seed) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("a mixed workload needs at least one part");
        }
        this.parts = parts.toArray(new Workload[0]);
        this.random = new SplittableRandom(seed);
        this.runLength = runLength;
        this.run = new AccessBatch(runLength);
    }

    @Override
    public boolean fill(AccessBatch batch) {
        while (!batch.isFull()) {
            if (run.size() == 0 || cursor == run.size()) {
                if (!refill()) {
                    return false;
                }
            }
            while (cursor < run.size() && !batch.isFull()) {
                batch.add(run.address(cursor), run.kind(cursor), run.accessSize(cursor));
                cursor++;
            }
        }
        return remaining() != 0;
    }

    private boolean refill() {
        run.clear();
        cursor = 0;
        int live = 0;
        for (int i = 0; i < parts.length; i++) {
            if (parts[i].remaining() != 0) {
                live++;
            }
        }
        if (live == 0) {
            return false;
        }
        int pick = random.nextInt(live);
        for (int i = 0; i < parts.length; i++) {
            Workload w = parts[i];
            if (w.remaining() != 0 && pick-- == 0) {
                // A part fills at most one run, then another part gets its turn.
                w.fill(run);
                break;
            }
        }
        return run.size() > 0;
    }

    @Override
    public long remaining() {
        long n = run.size() - cursor;
        for (int i = 0; i < parts.length; i++) {
            long r = parts[i].remaining();
            if (r < 0) {
                return -1;
            }
            n += r;
        }
        return n;
    }

    @Override
    public String name() {
        return "mixed";
    }
}
