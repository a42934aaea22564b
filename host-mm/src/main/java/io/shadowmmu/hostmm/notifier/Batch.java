package io.shadowmmu.hostmm.notifier;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * One invalidation in flight: who was told, who still owes an ack, and the frames whose references it holds until
 * the last ack or fence (a pending-free batch). Owned by its mm's actor.
 */
public final class Batch {
    /** A subscriber's part in the batch. */
    static final class Part {
        final Subscription sub;
        final List<List<Range>> messages;
        /**
         * Which messages were answered, so that a duplicated reply does not count twice: a bit mask for the usual
         * part of at most 64 messages, a {@link BitSet} (made on first use) for the per-page strategies' longer ones.
         */
        private long repliedMask;
        private BitSet repliedMore;
        int awaiting;
        boolean nacked;

        Part(Subscription sub, List<List<Range>> messages) {
            this.sub = sub;
            this.messages = messages;
            this.awaiting = messages.size();
        }

        /** Counts the reply to message {@code index}; false for one already counted or out of range. */
        boolean reply(int index) {
            if (awaiting == 0 || index < 0 || index >= messages.size()) {
                return false;
            }
            if (index < Long.SIZE) {
                long bit = 1L << index;
                if ((repliedMask & bit) != 0) {
                    return false;
                }
                repliedMask |= bit;
            } else {
                if (repliedMore == null) {
                    repliedMore = new BitSet();
                }
                if (repliedMore.get(index)) {
                    return false;
                }
                repliedMore.set(index);
            }
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
    /** {@link #id} boxed once, the batch's key in its mm's table of batches in flight. */
    final Long key;
    final InvalidationEvent event;
    /** The changed ranges; they grow while the batch is queued and later changes join it (coalescing, GATHER). */
    List<Range> ranges;
    final boolean blockable;
    /** True when the PTEs change only once every subscriber acked (a barrier). */
    final boolean barrier;
    final long startedNanos;
    /**
     * Every subscriber's part, in the order they were told. An array searched by subscription id, not a map: an mm
     * has a handful of subscribers, and a map with its entries per batch was a measurable share of every
     * invalidation's allocation (issue 16).
     */
    private Part[] parts = new Part[2];
    private int partCount;
    /**
     * Subscriptions registered while this batch was in flight (they get the End, not the Start), grants of fenced
     * subscribers, and the work to run at the end: each list is made on first use, most batches need one at most.
     */
    List<Subscription> lateJoiners = List.of();
    List<AccessGrant> fencedGrants = List.of();
    List<Runnable> onComplete = List.of();
    /** Work that needs the held frames one last time (swap write-back), run just before they are released. */
    List<Runnable> beforeRelease = List.of();
    /** For barrier batches: the change to apply once everybody acked. */
    Runnable change;
    /** The held frames, {@link #frames} of them (the arrays may be longer: a queued batch grows them). */
    long[] vas = NO_VAS;
    int[] pfns = NO_PFNS;
    int frames;
    boolean changeApplied;
    /**
     * Applied, its frames held, but not yet told to anyone: more changes may join until the mm has served what was
     * in its mailbox (D88). A queued batch has no parts, so it must not count as acknowledged.
     */
    boolean queued;
    /** Pages its ranges cover, kept while it is queued: the cap on joining (max-pages-per-batch). */
    long pages;
    boolean ended;
    boolean nacked;

    private static final long[] NO_VAS = new long[0];
    private static final int[] NO_PFNS = new int[0];

    Batch(long id, InvalidationEvent event, List<Range> ranges, boolean blockable, boolean barrier, long nowNanos) {
        this.id = id;
        this.key = id;
        this.event = event;
        this.ranges = ranges;
        this.blockable = blockable;
        this.barrier = barrier;
        this.startedNanos = nowNanos;
    }

    /** Runs {@code r} once the batch completed (every subscriber acked or was fenced, frames released). */
    public void onComplete(Runnable r) {
        onComplete = added(onComplete, r);
    }

    void beforeRelease(Runnable r) {
        beforeRelease = added(beforeRelease, r);
    }

    void lateJoiner(Subscription s) {
        lateJoiners = added(lateJoiners, s);
    }

    void fenced(AccessGrant grant) {
        fencedGrants = added(fencedGrants, grant);
    }

    private static <E> List<E> added(List<E> list, E e) {
        List<E> out = list.isEmpty() ? new ArrayList<>(2) : list;
        out.add(e);
        return out;
    }

    void addPart(Part p) {
        if (partCount == parts.length) {
            parts = Arrays.copyOf(parts, partCount * 2);
        }
        parts[partCount++] = p;
    }

    /** The part of subscription {@code subscription}, or null when it was not told of this batch. */
    Part part(long subscription) {
        for (int i = 0; i < partCount; i++) {
            if (parts[i].sub.id == subscription) {
                return parts[i];
            }
        }
        return null;
    }

    int partCount() {
        return partCount;
    }

    /** Part {@code i} (0 <= i < {@link #partCount()}), in the order the subscribers were told. */
    Part part(int i) {
        return parts[i];
    }

    void hold(Gather gather) {
        vas = gather.copyVas();
        pfns = gather.copyPfns();
        frames = pfns.length;
    }

    /** The change ran outside the batch (no barrier): keep its gathered frames until every ack. */
    void applied(Gather gather) {
        hold(gather);
        changeApplied = true;
    }

    /**
     * Queues this batch for changes to join: its ranges become a sorted list of its own that {@link #join} merges
     * into, and its page count is kept.
     */
    void queue() {
        queued = true;
        ranges = Range.union(ranges, List.of());
        pages = Range.totalPages(ranges);
    }

    /**
     * A later change of the same kind joins this queued batch: its ranges and released frames become ours. The
     * arrays grow by doubling and the ranges are merged in place, so a batch that many changes join costs each
     * of them about what its own batch would have.
     */
    void join(List<Range> more, Gather gather) {
        for (int i = 0; i < more.size(); i++) {
            Range.insert(ranges, more.get(i));
        }
        pages = Range.totalPages(ranges);
        int added = gather.frameCount();
        if (frames + added > pfns.length) {
            int capacity = Math.max(frames + added, pfns.length * 2);
            vas = Arrays.copyOf(vas, capacity);
            pfns = Arrays.copyOf(pfns, capacity);
        }
        for (int i = 0; i < added; i++) {
            vas[frames + i] = gather.va(i);
            pfns[frames + i] = gather.pfn(i);
        }
        frames += added;
    }

    /** Sent: its ranges stop changing, and subscribers may keep them. */
    void send() {
        queued = false;
        ranges = List.copyOf(ranges);
    }

    boolean allReplied() {
        for (int i = 0; i < partCount; i++) {
            if (parts[i].awaiting > 0) {
                return false;
            }
        }
        return true;
    }

    boolean covers(long va) {
        return !ended && Range.anyContains(ranges, va);
    }

    int heldFrames() {
        return frames;
    }
}
