package io.shadowmmu.emulator.vm;

import io.shadowmmu.emulator.scenario.RunBound;
import io.shadowmmu.guest.workload.AccessBatch;
import io.shadowmmu.guest.workload.Workload;

/** A workload that also ends when its run's bound is reached (the vCPU asks between batches). */
final class BoundedWorkload implements Workload {
    private final Workload inner;
    private final RunBound bound;

    BoundedWorkload(Workload inner, RunBound bound) {
        this.inner = inner;
        this.bound = bound;
    }

    @Override
    public boolean fill(AccessBatch batch) {
        return !bound.reached() && inner.fill(batch);
    }

    @Override
    public long remaining() {
        return bound.reached() ? 0 : inner.remaining();
    }

    @Override
    public String name() {
        return inner.name();
    }
}
