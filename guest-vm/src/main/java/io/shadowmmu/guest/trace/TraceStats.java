package io.shadowmmu.guest.trace;

/**
 * What a trace contained, as read so far. Instruction fetches are kept apart from data accesses, because a
 * data-TLB study wants only the latter.
 *
 * @param lines            every line read, comments included
 * @param comments         valgrind's {@code ==pid==} lines and blank lines, skipped
 * @param instructionFetches {@code I} lines
 * @param loads            {@code L} lines
 * @param stores           {@code S} lines
 * @param modifies         {@code M} lines (a load and a store of the same location)
 * @param pageSpanning     accesses whose bytes cross a page boundary (each touches both pages)
 */
public record TraceStats(long lines, long comments, long instructionFetches, long loads, long stores,
                         long modifies, long pageSpanning) {
    public long dataAccesses() {
        return loads + stores + modifies;
    }

    public long accesses() {
        return instructionFetches + dataAccesses();
    }
}
