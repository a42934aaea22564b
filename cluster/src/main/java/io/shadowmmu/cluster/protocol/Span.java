package io.shadowmmu.cluster.protocol;

/** A half-open range {@code [start, end)} of the exporter's virtual addresses, as sent over the network. */
public record Span(long start, long end) implements CrossNode {
    public boolean contains(long address) {
        return address >= start && address < end;
    }

    public static boolean anyContains(java.util.List<Span> spans, long address) {
        for (Span s : spans) {
            if (s.contains(address)) {
                return true;
            }
        }
        return false;
    }
}
