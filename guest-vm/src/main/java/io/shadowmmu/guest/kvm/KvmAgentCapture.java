package io.shadowmmu.guest.kvm;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.List;

/**
 * Forwards every event to the real sink and remembers the agent id KvmMmu names for itself ({@code "kvm <name>"}),
 * so the vCPUs can report their TLB entries under KVM's agent: a fence of KVM then revokes them with KVM's sptes.
 * KvmMmu keeps its id private; it announces it once, through {@link #agentNamed}, when it starts.
 *
 * <p>Forwards each method of {@link CoherenceEvents} explicitly: a method added to that interface must be added here.
 */
public final class KvmAgentCapture implements CoherenceEvents {
    private final CoherenceEvents sink;
    private final String kvmName;
    private volatile long kvmAgent = -1;

    public KvmAgentCapture(CoherenceEvents sink, String kvmName) {
        this.sink = sink;
        this.kvmName = kvmName;
    }

    /** KVM's agent id, or -1 before KvmMmu started. */
    public long kvmAgent() {
        return kvmAgent;
    }

    @Override
    public boolean enabled() {
        return sink.enabled();
    }

    @Override
    public void agentNamed(long agent, String name) {
        if (kvmAgent < 0 && ("kvm " + kvmName).equals(name)) {
            kvmAgent = agent;
        }
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
