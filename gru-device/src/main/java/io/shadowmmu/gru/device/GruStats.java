package io.shadowmmu.gru.device;

/**
 * A device's counters.
 *
 * @param dropins        translations installed by the atomic drop-in
 * @param dropinFailures misses the device could not resolve (PTE absent or without the permission): host faults
 * @param dropinWaits    misses that waited for an active invalidation of their range to end
 * @param dropinDiscards drop-ins discarded because an invalidation ran meanwhile (the sequence check)
 * @param flushes        flush commands (one per range, or one whole-ASID flush)
 * @param handleWaits    flushes that found every flush handle busy and waited for one to complete
 * @param churns         mm bindings torn down and re-created by context churn ({@code gru.context-churn})
 * @param registrations  notifier registrations completed (one per mm binding; more under context churn)
 * @param registrationsInFlight registrations the host handed at least one invalidation in flight
 * @param acksDeferred   invalidation starts acknowledged after their handler, once flushes that waited for a handle
 *                       ran (the others were acknowledged inside it)
 * @param handleQueueMost the most flushes ever waiting for a handle at once
 */
public record GruStats(String name, int contexts, long opened, long hits, long misses, long dropins,
                       long dropinFailures, long dropinWaits, long dropinDiscards, long flushes, long entriesFlushed,
                       long handleWaits, long contextLoads, long contextSteals, long violations,
                       long churns, long registrations, long registrationsInFlight, long acksDeferred,
                       int handleQueueMost) {
}
