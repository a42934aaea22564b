package io.shadowmmu.hostmm.pressure;

import java.util.concurrent.atomic.AtomicLong;

/** Counters of a host's memory-pressure daemons, written by them and read by anyone. */
public final class PressureCounters {
    final AtomicLong scanned = new AtomicLong();
    final AtomicLong aged = new AtomicLong();
    final AtomicLong activated = new AtomicLong();
    final AtomicLong youngFromSecondaries = new AtomicLong();
    final AtomicLong evicted = new AtomicLong();
    final AtomicLong swappedOut = new AtomicLong();
    final AtomicLong fileEvicted = new AtomicLong();
    final AtomicLong migrations = new AtomicLong();
    final AtomicLong migrationFailures = new AtomicLong();
    final AtomicLong ksmMerged = new AtomicLong();
    final AtomicLong ksmScanned = new AtomicLong();
    final AtomicLong reclaimRuns = new AtomicLong();
    final AtomicLong sharedSwappedOut = new AtomicLong();

    /**
     * @param swappedIn swap-ins done by faults (read from the swap device)
     * @param swapUsed  swap slots in use now
     * @param sharedSwappedOut pages shared by several mappings (copy-on-write after fork, KSM) swapped out, counted
     *                  in {@code swappedOut} too
     */
    public record Snapshot(long scanned, long aged, long activated, long youngFromSecondaries, long evicted,
                           long swappedOut, long swappedIn, long swapUsed, long fileEvicted, long migrations,
                           long migrationFailures, long ksmMerged, long ksmScanned, long reclaimRuns,
                           long sharedSwappedOut) {
    }

    public Snapshot snapshot(long swappedIn, long swapUsed) {
        return new Snapshot(scanned.get(), aged.get(), activated.get(), youngFromSecondaries.get(), evicted.get(),
                swappedOut.get(), swappedIn, swapUsed, fileEvicted.get(), migrations.get(), migrationFailures.get(),
                ksmMerged.get(), ksmScanned.get(), reclaimRuns.get(), sharedSwappedOut.get());
    }
}
