package io.shadowmmu.emulator.cluster;

/**
 * Who may write which word of an exported segment in the cluster scenario: word {@code offset / 8} belongs to node
 * {@code (offset / 8) % stride}, the exporting node included (its own process writes its share). Each node has at
 * most one importer of a segment, so every word has a single writer and that writer's golden copy is exact (I1 is
 * about the last value written by the word's owner). Neighbouring words of one page belong to different nodes, so
 * copies of the same page on several nodes are written at once (false sharing) and their write-backs must merge.
 */
record WordOwners(int stride, int slot) {
    WordOwners {
        if (stride < 1 || slot < 0 || slot >= stride) {
            throw new IllegalArgumentException("slot " + slot + " of " + stride);
        }
    }

    boolean owns(long offset) {
        return Math.floorMod(offset >>> 3, stride) == slot;
    }

    /** The owned word at or just below {@code offset} (the first owned word when none is below). */
    long claim(long offset) {
        long word = offset >>> 3;
        long owned = word - Math.floorMod(word - slot, stride);
        return (owned < 0 ? owned + stride : owned) << 3;
    }
}
