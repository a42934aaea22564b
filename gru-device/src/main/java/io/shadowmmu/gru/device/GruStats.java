package io.shadowmmu.gru.device;

/**
 * A snapshot of a device's counters.
 *
 * @param dropins        translations installed by the hardware walker
 * @param dropinFailures walks that found no usable PTE (the instruction failed back to the process)
 * @param flushes        flush commands issued (one per range of a notification, one per steal)
 * @param entriesFlushed TLB entries those flushes removed
 * @param handleWaits    range flushes that had to wait for a free flush handle
 * @param rangeWaits     batches parked because a drop-in overlapped an active invalidation
 * @param walkRetries    walks repeated because the PTE changed under them (or the sequence moved)
 * @param steals         contexts unloaded to make room for another
 */
public record GruStats(String device, int contexts, int loadedContexts, long hits, long misses, long dropins,
                       long dropinFailures, long flushes, long asidFlushes, long entriesFlushed, long handleWaits,
                       long rangeWaits, long walkRetries, long steals, long violations, long fences) {

    public GruStats plus(GruStats o) {
        return new GruStats("all", contexts + o.contexts, loadedContexts + o.loadedContexts, hits + o.hits,
                misses + o.misses, dropins + o.dropins, dropinFailures + o.dropinFailures, flushes + o.flushes,
                asidFlushes + o.asidFlushes, entriesFlushed + o.entriesFlushed, handleWaits + o.handleWaits,
                rangeWaits + o.rangeWaits, walkRetries + o.walkRetries, steals + o.steals,
                violations + o.violations, fences + o.fences);
    }

    public static GruStats empty() {
        return new GruStats("all", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }
}
