package io.shadowmmu.hostmm.notifier;


import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One invalidation in flight: who was told, who still owes an ack, and the frames whose references it holds until
 * the last ack or fence (a pending-free batch). Owned by its mm's actor.
 */
public final class Batch {
    /** A subscriber's part in the batch. */
    static final class Part {
        final Subscription sub;
        final List<List<Range>> messages;
        /** Which messages were answered: a duplicated reply must not count twice. */
        private final java.util.BitSet replied = new java.util.BitSet();
        int awaiting;
        boolean nacked;

        Part(Subscription sub, List<List<Range>> messages) {
            this.sub = sub;
            this.messages = messages;
            this.awaiting = messages.size();
        }

        /** Counts the reply to message {@code index}; false for one already counted or out of range. */
        boolean reply(int index) {
            if (awaiting == 0 || index < 0 || index >= messages.size() || replied.get(index)) {
                return false;
            }
            replied.set(index);
            awaiting--;
            return true;
        }
    }

    /** Bits of a notification id that hold the batch; the message's index within its part sits above them. */
    static final int BATCH_BITS = 40;
    /** Most messages one subscriber's part may have, so that every index fits in a notification id. */
    static final int MAX_MESSAGES = 1 << (63 - BATCH_BITS);

    /**
     * The id a subscriber sees in the start, echoes in its reply and sees again in the end. Message 0 carries the
     * plain batch id, so a single-message batch (every strategy but PER_PAGE / PER_PT_PAGE) reads as the batch.
     */
    static long notificationId(long batch, int message) {
        return batch | ((long) message << BATCH_BITS);
    }

    static long batchOf(long notificationId) {
        return notificationId & ((1L << BATCH_BITS) - 1);
    }

    static int messageOf(long notificationId) {
        return (int) (notificationId >>> BATCH_BITS);
    }

    public final long id;
    final InvalidationEvent event;
    final List<Range> ranges;
    final boolean blockable;
    /** True when the PTEs change only once every subscriber acked (a barrier). */
    final boolean barrier;
    final long startedNanos;
    final Map<Long, Part> parts = new LinkedHashMap<>();
    /** Subscriptions registered while this batch was in flight: they get the End, not the Start. */
    final List<Subscription> lateJoiners = new ArrayList<>();
    final List<AccessGrant> fencedGrants = new ArrayList<>();
    public final List<Runnable> onComplete = new ArrayList<>();
    /** Work that needs the held frames one last time (swap write-back), run just before they are released. */
    final List<Runnable> beforeRelease = new ArrayList<>();
    /** For barrier batches: the change to apply once everybody acked. */
    Runnable change;
    long[] vas = new long[0];
    int[] pfns = new int[0];
    boolean changeApplied;
    boolean ended;
    boolean nacked;

    Batch(long id, InvalidationEvent event, List<Range> ranges, boolean blockable, boolean barrier, long nowNanos) {
        this.id = id;
        this.event = event;
        this.ranges = ranges;
        this.blockable = blockable;
        this.barrier = barrier;
        this.startedNanos = nowNanos;
    }

    void hold(Gather gather) {
        vas = gather.copyVas();
        pfns = gather.copyPfns();
    }

    /** The change ran outside the batch (no barrier): keep its gathered frames until every ack. */
    void applied(Gather gather) {
        hold(gather);
        changeApplied = true;
    }

    boolean allReplied() {
        for (Part p : parts.values()) {
            if (p.awaiting > 0) {
                return false;
            }
        }
        return true;
    }

    boolean covers(long va) {
        return !ended && Range.anyContains(ranges, va);
    }

    int heldFrames() {
        return pfns.length;
    }
}
