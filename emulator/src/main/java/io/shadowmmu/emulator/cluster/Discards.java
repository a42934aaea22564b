package io.shadowmmu.emulator.cluster;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Per page of one exported segment, the discards of its contents the exporting process made on purpose (madvise
 * DONTNEED: the page reads as zeros afterwards), so the importers' golden copies stop vouching for what was written
 * before. Shared in this JVM by the segment's churn (which starts and ends each discard) and its importers' drivers
 * (which only read): plain atomics, no lock, no message.
 */
final class Discards {
    private final AtomicIntegerArray started;
    private final AtomicIntegerArray ended;

    Discards(int pages) {
        started = new AtomicIntegerArray(pages);
        ended = new AtomicIntegerArray(pages);
    }

    /** Before the system call is sent: from now on the pages' contents may go. */
    void begin(int first, int count) {
        for (int p = first; p < first + count; p++) {
            started.incrementAndGet(p);
        }
    }

    /** After the system call returned (every importer dropped its copies of the pages). */
    void end(int first, int count) {
        for (int p = first; p < first + count; p++) {
            ended.incrementAndGet(p);
        }
    }

    /**
     * The page's discard epoch when no discard of it is in progress, else -1. {@code ended} is read first: equal to
     * {@code started} read after it, both were equal at that moment (ended never passes started).
     */
    int quiet(int page) {
        int e = ended.get(page);
        int s = started.get(page);
        return s == e ? s : -1;
    }

    /** Whether no discard of the page started since it was quiet at {@code epoch}. */
    boolean unchangedSince(int page, int epoch) {
        return epoch >= 0 && started.get(page) == epoch;
    }
}
