package io.shadowmmu.guest.workload;

/**
 * A finite stream of guest virtual accesses. Deterministic: the same parameters and seed give the same stream.
 * Implementations fill a caller's {@link AccessBatch} and allocate nothing per access.
 */
public interface Workload {
    /**
     * Appends accesses to {@code batch} until it is full or the stream ends.
     *
     * @return false once the stream is exhausted (nothing more will ever be added); a stream read lazily may
     *         return true with a full batch and find its end on the next call, which then adds nothing
     */
    boolean fill(AccessBatch batch);

    /** Accesses not yet produced, or -1 when unknown (a trace read lazily). */
    long remaining();

    /** A short name for logs and reports. */
    String name();
}
