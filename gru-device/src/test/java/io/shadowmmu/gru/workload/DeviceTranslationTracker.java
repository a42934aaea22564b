package io.shadowmmu.gru.workload;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small I3 checker for this module's tests (the full oracle lives in testkit, which depends on this module):
 * counts live device translations per frame generation and flags a frame freed while one still lives, plus any
 * violation an agent reports itself.
 */
final class DeviceTranslationTracker implements CoherenceEvents {
    private final Set<Long> devices = new HashSet<>();
    private final Map<Long, Integer> live = new HashMap<>();
    private final List<String> violations = new ArrayList<>();
    private long installs;

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public synchronized void agentNamed(long agent, String name) {
        if (name.startsWith("gru")) {
            devices.add(agent);
        }
    }

    private static long key(int pfn, int generation) {
        return ((long) pfn << 32) | (generation & 0xffffffffL);
    }

    @Override
    public synchronized void translationInstalled(long agent, int cache, long space, long va, int pfn,
                                                  int generation, boolean writable) {
        if (devices.contains(agent)) {
            installs++;
            live.merge(key(pfn, generation), 1, Integer::sum);
        }
    }

    @Override
    public synchronized void translationRemoved(long agent, int cache, long space, long va, int pfn,
                                                int generation) {
        if (devices.contains(agent)) {
            live.merge(key(pfn, generation), -1, Integer::sum);
        }
    }

    @Override
    public synchronized void frameFreed(int pfn, int generation) {
        Integer n = live.get(key(pfn, generation));
        if (n != null && n > 0) {
            violations.add("I3: frame " + pfn + " generation " + generation + " freed with " + n
                    + " live device translation(s)");
        }
    }

    @Override
    public synchronized void violation(Invariant invariant, long agent, String detail) {
        violations.add(invariant + ": " + detail);
    }

    synchronized List<String> violations() {
        return List.copyOf(violations);
    }

    synchronized long installs() {
        return installs;
    }

    synchronized long liveTranslations() {
        long n = 0;
        for (int v : live.values()) {
            n += v;
        }
        return n;
    }
}
