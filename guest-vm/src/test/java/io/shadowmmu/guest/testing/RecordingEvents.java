package io.shadowmmu.guest.testing;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** Keeps the violations agents report, agents' names, and how many translations each agent's caches installed. */
public final class RecordingEvents implements CoherenceEvents {
    public record Violation(Invariant invariant, long agent, String detail) {
    }

    public final List<Violation> violations = new CopyOnWriteArrayList<>();
    public final Map<Long, String> names = new ConcurrentHashMap<>();
    /** Installs per agent id, by vCPU TLBs only (cache above 0; 0 is KVM's sptes). */
    public final Map<Long, AtomicLong> tlbInstalls = new ConcurrentHashMap<>();

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public void agentNamed(long agent, String name) {
        names.put(agent, name);
    }

    @Override
    public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                     boolean writable) {
        if (cache > 0) {
            tlbInstalls.computeIfAbsent(agent, a -> new AtomicLong()).incrementAndGet();
        }
    }

    @Override
    public void violation(Invariant invariant, long agent, String detail) {
        violations.add(new Violation(invariant, agent, detail));
    }
}
