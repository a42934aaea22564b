package io.shadowmmu.hostmm.events;

import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.List;

/**
 * A sink that passes every event on to another: extend it and override the events you watch or change. Every method
 * of {@link CoherenceEvents} is forwarded here explicitly, so a method added to that interface must be added here
 * (and only here), or a wrapper would silently swallow it (a lost {@link #mirrors} would switch I2 off).
 */
public abstract class ForwardingEvents implements CoherenceEvents {
    protected final CoherenceEvents sink;

    protected ForwardingEvents(CoherenceEvents sink) {
        this.sink = sink;
    }

    @Override
    public boolean enabled() {
        return sink.enabled();
    }

    @Override
    public void agentNamed(long agent, String name) {
        sink.agentNamed(agent, name);
    }

    @Override
    public void mirrors(long agent, long mm) {
        sink.mirrors(agent, mm);
    }

    @Override
    public void frameAllocated(int pfn, int generation, long owner) {
        sink.frameAllocated(pfn, generation, owner);
    }

    @Override
    public void frameFreed(int pfn, int generation) {
        sink.frameFreed(pfn, generation);
    }

    @Override
    public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                     boolean writable) {
        sink.translationInstalled(agent, cache, space, va, pfn, generation, writable);
    }

    @Override
    public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
        sink.translationRemoved(agent, cache, space, va, pfn, generation);
    }

    @Override
    public void frameDirtiedBySecondary(long agent, int pfn, int generation) {
        sink.frameDirtiedBySecondary(agent, pfn, generation);
    }

    @Override
    public void pageCacheEvicted(int pfn, int generation, boolean writtenBack) {
        sink.pageCacheEvicted(pfn, generation, writtenBack);
    }

    @Override
    public void agentRevoked(long agent, String why) {
        sink.agentRevoked(agent, why);
    }

    @Override
    public void invalidationStarted(long mm, long batch, List<Range> ranges, InvalidationEvent event) {
        sink.invalidationStarted(mm, batch, ranges, event);
    }

    @Override
    public void invalidationAcked(long mm, long batch, long subscription) {
        sink.invalidationAcked(mm, batch, subscription);
    }

    @Override
    public void invalidationFenced(long mm, long batch, long subscription) {
        sink.invalidationFenced(mm, batch, subscription);
    }

    @Override
    public void invalidationCompleted(long mm, long batch, long elapsedNanos) {
        sink.invalidationCompleted(mm, batch, elapsedNanos);
    }

    @Override
    public void violation(Invariant invariant, long agent, String detail) {
        sink.violation(invariant, agent, detail);
    }
}
