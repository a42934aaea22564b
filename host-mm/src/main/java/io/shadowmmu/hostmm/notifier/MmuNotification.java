package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;

import java.util.List;

/**
 * Host to subscriber: what a secondary MMU is told ({@code struct mmu_notifier_ops}). A subscriber answers on
 * {@code replyTo} with a {@link NotifierReply}; it may do so inside its handler (atomic) or later, after a vCPU
 * shootdown or a remote round trip (sleeping). Every {@link InvalidateStart} is followed by exactly one
 * {@link InvalidateEnd} for the same batch, even when the subscriber answered {@link NotifierReply.Nack}.
 */
public sealed interface MmuNotification {

    /** Which subscription a message is for; a subscriber may hold several. */
    long subscription();

    /**
     * Drop and flush every translation of {@code ranges}, then acknowledge ({@code invalidate_range_start}).
     * Until the matching {@link InvalidateEnd}, a fault on these ranges must not install anything.
     *
     * @param blockable false for OOM-reaper style callers: a subscriber that would have to wait answers Nack
     */
    record InvalidateStart(long subscription, long mm, long batch, List<Range> ranges, InvalidationEvent event,
                           boolean blockable, ActorRef<NotifierReply> replyTo) implements MmuNotification {
    }

    /** The primary's change is done; faults on these ranges may install again ({@code invalidate_range_end}). */
    record InvalidateEnd(long subscription, long mm, long batch, List<Range> ranges) implements MmuNotification {
    }

    /** Clear the accessed state of {@code range} and report whether any was set ({@code clear_flush_young}). */
    record ClearYoung(long subscription, long mm, long request, Range range, ActorRef<NotifierReply> replyTo)
            implements MmuNotification {
    }

    /** Report whether {@code range} was accessed, without clearing ({@code test_young}). */
    record TestYoung(long subscription, long mm, long request, Range range, ActorRef<NotifierReply> replyTo)
            implements MmuNotification {
    }

    /** The mm is exiting: drop everything and acknowledge ({@code release}). */
    record Release(long subscription, long mm, long batch, ActorRef<NotifierReply> replyTo)
            implements MmuNotification {
    }

    /**
     * The host gave up waiting for this subscriber: its access was revoked, its translations count as gone, and the
     * subscription no longer exists. To go on it must drop everything, register again and re-fault.
     */
    record Fenced(long subscription, long mm, String reason) implements MmuNotification {
    }
}
