package io.shadowmmu.gru.scenario;

import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.hostmm.host.HostCommand;

import java.util.List;

/**
 * What a {@link GruScenario} run did: device counters summed over the devices, what the user processes saw, what the
 * host stressor did, and the final frame audit (I5; null when the scenario ran on a host it does not own).
 *
 * @param churns                mm bindings the devices tore down and re-created (gru.context-churn)
 * @param registrations         notifier registrations the devices completed
 * @param registrationsInFlight registrations handed at least one invalidation in flight
 * @param slowAcks              invalidations the slow-ack subscriber held open (gru.slow-ack)
 * @param acksDeferred          invalidation starts acknowledged after their handler, once flushes that waited for a
 *                              flush handle ran
 * @param checkedReads          loads and AMOs the processes checked against their golden copies (I1)
 * @param staleReads            of those, the ones that returned stale data (reported to the oracle as I1)
 */
public record GruResult(int devices, int processes, long contexts, long instructions, long hits, long misses,
                        long dropins, long dropinFailures, long dropinWaits, long dropinDiscards, long flushes,
                        long entriesFlushed, long handleWaits, long contextSteals, long hostFaults, long segvs,
                        long deviceViolations, long churns, long registrations, long registrationsInFlight,
                        long slowAcks, long acksDeferred, long checkedReads, long staleReads,
                        GruStressor.Counts stress, List<GruStats> perDevice,
                        HostCommand.AuditReport audit) {

    /** The counters under their JSON names (the CLI puts them under {@code gru.}), in a stable order. */
    public java.util.Map<String, Object> fields() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("devices", devices);
        m.put("processes", processes);
        m.put("contexts", contexts);
        m.put("instructions", instructions);
        m.put("hits", hits);
        m.put("misses", misses);
        m.put("dropins", dropins);
        m.put("dropinFailures", dropinFailures);
        m.put("dropinWaits", dropinWaits);
        m.put("dropinDiscards", dropinDiscards);
        m.put("flushes", flushes);
        m.put("entriesFlushed", entriesFlushed);
        m.put("handleWaits", handleWaits);
        m.put("contextSteals", contextSteals);
        m.put("hostFaults", hostFaults);
        m.put("segvs", segvs);
        m.put("violations", deviceViolations);
        m.put("churns", churns);
        m.put("registrations", registrations);
        m.put("registrationsInFlight", registrationsInFlight);
        m.put("slowAcks", slowAcks);
        m.put("acksDeferred", acksDeferred);
        m.put("checkedReads", checkedReads);
        m.put("staleReads", staleReads);
        m.put("stress.mprotects", stress.mprotects());
        m.put("stress.munmaps", stress.munmaps());
        m.put("stress.dontneeds", stress.dontneeds());
        m.put("stress.forks", stress.forks());
        return m;
    }

    static GruResult of(List<GruStats> devices, int processes, long instructions, long hostFaults, long segvs,
                        long slowAcks, long checkedReads, long staleReads, GruStressor.Counts stress,
                        HostCommand.AuditReport audit) {
        long contexts = 0;
        long hits = 0;
        long misses = 0;
        long dropins = 0;
        long failures = 0;
        long waits = 0;
        long discards = 0;
        long flushes = 0;
        long flushed = 0;
        long handleWaits = 0;
        long steals = 0;
        long violations = 0;
        long churns = 0;
        long registrations = 0;
        long registrationsInFlight = 0;
        long acksDeferred = 0;
        for (GruStats s : devices) {
            contexts += s.opened();
            hits += s.hits();
            misses += s.misses();
            dropins += s.dropins();
            failures += s.dropinFailures();
            waits += s.dropinWaits();
            discards += s.dropinDiscards();
            flushes += s.flushes();
            flushed += s.entriesFlushed();
            handleWaits += s.handleWaits();
            steals += s.contextSteals();
            violations += s.violations();
            churns += s.churns();
            registrations += s.registrations();
            registrationsInFlight += s.registrationsInFlight();
            acksDeferred += s.acksDeferred();
        }
        return new GruResult(devices.size(), processes, contexts, instructions, hits, misses, dropins, failures,
                waits, discards, flushes, flushed, handleWaits, steals, hostFaults, segvs, violations, churns,
                registrations, registrationsInFlight, slowAcks, acksDeferred, checkedReads, staleReads, stress,
                List.copyOf(devices), audit);
    }
}
