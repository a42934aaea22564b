package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.hostmm.mm.MmCommand;

import java.util.List;

/**
 * Subscriber to host: answers to {@link MmuNotification}s. They are the mm's own messages too, so a subscriber
 * answers on the mm's ref, narrowed to this protocol, and the mm handles each kind directly.
 */
public sealed interface NotifierReply extends MmCommand.Internal {
    long subscription();

    /**
     * The subscriber dropped and flushed what it was asked to.
     *
     * @param dirty ranges the subscriber wrote through its own mappings since it last reported them, so the host
     *              marks those pages dirty and never loses a secondary's write (I6); empty when none
     */
    record Ack(long subscription, long batch, List<Range> dirty) implements NotifierReply {
        public static Ack clean(long subscription, long batch) {
            return new Ack(subscription, batch, List.of());
        }
    }

    /** A non-blockable start that the subscriber cannot serve without waiting ({@code -EAGAIN}). */
    record Nack(long subscription, long batch) implements NotifierReply {
    }

    /** Answer to ClearYoung / TestYoung. */
    record YoungReport(long subscription, long request, boolean young) implements NotifierReply {
    }
}
