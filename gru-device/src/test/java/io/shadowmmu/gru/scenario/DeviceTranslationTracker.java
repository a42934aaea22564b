package io.shadowmmu.gru.scenario;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small I3 checker for this module's tests (the full oracle lives in the scenario module, which depends on this one):
 * counts live device translations per frame generation, from the devices' install/remove events, and flags a frame
 * freed while one still lives; plus any violation an agent reports itself. This catches a stale translation even
 * when no instruction happens to hit it afterwards, which the devices' own hit-path check cannot.
 */
final class DeviceTranslationTracker implements CoherenceEvents {
    private final Set<Long> devices = new HashSet<>();
    private final Map<Long, Map<Long, Integer>> live = new HashMap<>();
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
            live.computeIfAbsent(agent, a -> new HashMap<>()).merge(key(pfn, generation), 1, Integer::sum);
        }
    }

    @Override
    public synchronized void translationRemoved(long agent, int cache, long space, long va, int pfn,
                                                int generation) {
        if (devices.contains(agent)) {
            live.computeIfAbsent(agent, a -> new HashMap<>()).merge(key(pfn, generation), -1, Integer::sum);
        }
    }

    /** A fenced agent's translations count as gone: the host revoked its access before freeing anything. */
    @Override
    public synchronized void agentRevoked(long agent, String why) {
        live.remove(agent);
    }

    @Override
    public synchronized void frameFreed(int pfn, int generation) {
        int n = 0;
        for (Map<Long, Integer> perAgent : live.values()) {
            n += perAgent.getOrDefault(key(pfn, generation), 0);
        }
        if (n > 0) {
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
        for (Map<Long, Integer> perAgent : live.values()) {
            for (int v : perAgent.values()) {
                n += v;
            }
        }
        return n;
    }
}
