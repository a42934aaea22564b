package io.shadowmmu.guest.tlb;

/**
 * Counters of one TLB.
 *
 * @param flushes        flush operations (all or range)
 * @param flushedEntries valid entries those flushes dropped
 * @param evictions      valid entries replaced by a fill (capacity or conflict misses)
 */
public record TlbStats(long hits, long misses, long flushes, long flushedEntries, long evictions) {
    public static final TlbStats ZERO = new TlbStats(0, 0, 0, 0, 0);

    public TlbStats plus(TlbStats o) {
        return new TlbStats(hits + o.hits, misses + o.misses, flushes + o.flushes,
                flushedEntries + o.flushedEntries, evictions + o.evictions);
    }

    public double hitRate() {
        long n = hits + misses;
        return n == 0 ? 0.0 : (double) hits / n;
    }
}
