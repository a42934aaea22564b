package io.shadowmmu.gru.device;

/** Mutable counters of one device, owned by its actor. */
final class GruCounters {
    long opened;
    long hits;
    long misses;
    long dropins;
    long dropinFailures;
    long dropinWaits;
    long dropinDiscards;
    long flushes;
    long entriesFlushed;
    long contextLoads;
    long contextSteals;
    long violations;
    long churns;
    long registrations;
    long registrationsInFlight;
    long acksDeferred;

    GruStats snapshot(String name, int contexts, long handleWaits, int handleQueueMost) {
        return new GruStats(name, contexts, opened, hits, misses, dropins, dropinFailures, dropinWaits,
                dropinDiscards, flushes, entriesFlushed, handleWaits, contextLoads, contextSteals, violations, churns,
                registrations, registrationsInFlight, acksDeferred, handleQueueMost);
    }
}
