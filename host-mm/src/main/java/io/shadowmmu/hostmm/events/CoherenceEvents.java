package io.shadowmmu.hostmm.events;

import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.List;

/**
 * What the coherence oracle needs to know, reported by the agents as it happens. Every method defaults to doing
 * nothing, and {@link #NONE} is the default sink, so a run without the oracle pays one interface call that the JIT
 * removes. Implementations must be thread-safe: agents call from their own actors.
 *
 * <p>Agent ids are longs handed out by {@link AgentIds}; {@link #agentNamed} gives them a readable name. A
 * translation is identified by (agent, cache, address): {@code cache} tells apart the caches of one agent (the
 * sptes, each vCPU's TLB, a device TLB), {@code space} is the address-space tag of the address (an mm id, a gpa
 * space, an ASID).
 */
public interface CoherenceEvents {
    CoherenceEvents NONE = new CoherenceEvents() {
    };

    /** False for the no-op sink: callers may skip building event arguments. */
    default boolean enabled() {
        return false;
    }

    default void agentNamed(long agent, String name) {
    }

    /**
     * {@code agent} is a secondary MMU of mm {@code mm}: what it translates must be frames that mm holds (I2). A
     * secondary says so once, when it subscribes, before its first install.
     */
    default void mirrors(long agent, long mm) {
    }

    default void frameAllocated(int pfn, int generation, long owner) {
    }

    default void frameFreed(int pfn, int generation) {
    }

    default void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                      boolean writable) {
    }

    default void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
    }

    /**
     * A secondary found frame {@code pfn} written through its own mapping (a dirty spte or device entry) while
     * dropping it, and reports the page dirty to its host (I6: the host must write it back before reclaiming it).
     */
    default void frameDirtiedBySecondary(long agent, int pfn, int generation) {
    }

    /** Reclaim dropped a page-cache page; {@code writtenBack}: its contents went to the file first. */
    default void pageCacheEvicted(int pfn, int generation, boolean writtenBack) {
    }

    /** Every translation held by {@code agent} is gone at once (fenced with its access revoked, or dead). */
    default void agentRevoked(long agent, String why) {
    }

    default void invalidationStarted(long mm, long batch, List<Range> ranges, InvalidationEvent event) {
    }

    default void invalidationAcked(long mm, long batch, long subscription) {
    }

    default void invalidationFenced(long mm, long batch, long subscription) {
    }

    default void invalidationCompleted(long mm, long batch, long elapsedNanos) {
    }

    /** An agent saw a violation itself (a golden-copy mismatch, a generation mismatch on a hit path). */
    default void violation(Invariant invariant, long agent, String detail) {
    }
}
