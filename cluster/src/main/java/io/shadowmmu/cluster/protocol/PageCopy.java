package io.shadowmmu.cluster.protocol;

/**
 * One page of an exported range, copied for an importer that maps remote memory by ranges: the exporter's frame and
 * generation it was copied from (where a write-back must land) and its contents as {@code PhysicalMemory.snapshot}
 * gives them.
 */
public record PageCopy(long page, int pfn, int generation, boolean writable, long[] contents) implements CrossNode {
}
