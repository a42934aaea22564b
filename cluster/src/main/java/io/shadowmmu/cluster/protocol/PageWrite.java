package io.shadowmmu.cluster.protocol;

/**
 * What an importer wrote to its copy of one page, going back to the exporter's frame {@code pfn} (checked against
 * {@code generation}): the changed words and their values, or, when {@code words} is null, the whole page as
 * {@code values} (a snapshot, for memory that keeps no per-word contents). Only changed words travel, so what the
 * exporting process wrote to other words of the page meanwhile survives (a twin and a diff).
 */
public record PageWrite(long page, int pfn, int generation, int[] words, long[] values) implements CrossNode {
}
