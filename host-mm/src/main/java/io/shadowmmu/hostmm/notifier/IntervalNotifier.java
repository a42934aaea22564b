package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The subscriber's side of one notifier subscription ({@code struct mmu_interval_notifier}): everything a secondary
 * MMU must track to never install what an invalidation revoked, written once for every secondary in the project.
 *
 * <p>It holds the subscription id, the access grant and the host page table handed over at registration, the
 * invalidations in progress (started, not yet ended, including those already in flight when the subscriber
 * registered), a 64-bit invalidate sequence bumped by every end and every fence, and the waiters (faults, device
 * batches) parked until an invalidation over their address ends. A fault follows Linux's read-side pattern:
 * <pre>
 *   if (notifier.invalidating(va)) { notifier.park(fault); return; }   // mmu_interval_read_begin would wait
 *   long seq = notifier.readBegin();                                  // mmu_interval_read_begin
 *   ... ask the host for the page (a message round trip) ...
 *   if (notifier.readRetry(seq, va)) { retry; } else { install; }    // mmu_interval_read_retry
 * </pre>
 * Messages from the host and replies to a fault come from different senders and are not ordered with respect to
 * each other; the retry check is what makes that race safe (DESIGN.md principle 4).
 *
 * <p>{@link #dispatch} does the protocol's bookkeeping for every {@link MmuNotification} and calls the
 * subscriber's {@link Handler} only for what is specific to it (what to zap, when to ack, how to re-register).
 *
 * <p>Not thread-safe: it belongs to the one actor that owns the subscription and is used from its handlers only.
 * Sequences are compared with {@code ==} only, so they may wrap freely (KVM once truncated one to {@code int}).
 *
 * @param <W> what the subscriber parks while an invalidation runs (a fault, a batch of device instructions)
 */
public final class IntervalNotifier<W> {

    /** What a subscriber does on top of the bookkeeping {@link #dispatch} already did. */
    public interface Handler {
        /**
         * {@code invalidate_range_start}: the ranges already count as in progress. Drop and flush every translation
         * of {@code start.ranges()}, then acknowledge on {@code start.replyTo()}, inside this call (atomic) or later
         * (sleeping).
         */
        void invalidateStart(MmuNotification.InvalidateStart start);

        /**
         * {@code invalidate_range_end}: the sequence moved, the ranges are no longer in progress, and the parked
         * waiters were already retried.
         */
        default void invalidateEnd(MmuNotification.InvalidateEnd end) {
        }

        /** {@code release}: the mm exits. Drop everything and acknowledge on {@code release.replyTo()}. */
        void release(MmuNotification.Release release);

        /**
         * {@code clear_flush_young} ({@code clear}) and {@code test_young}: was any page of {@code range} accessed
         * through this subscriber's translations? {@link #dispatch} sends the report.
         */
        boolean young(Range range, boolean clear);

        /**
         * The host fenced this subscription ({@code fenced.subscription()} is negative when the mm exited before the
         * registration completed). The notifier is already back to unregistered, with the sequence moved and
         * nothing in progress: drop every translation, then register again (or stop).
         */
        void fenced(MmuNotification.Fenced fenced);
    }

    private final Consumer<W> retry;
    /**
     * Invalidations started and not ended, by the notification's batch id: a start and its end carry the same id (an
     * in-flight hand-over too), so a duplicated start or end (an injected fault) changes nothing.
     */
    private final Map<Long, List<Range>> inProgress = new LinkedHashMap<>();
    private final List<W> parked = new ArrayList<>();
    private long subscription = -1;
    private AccessGrant grant;
    private PageTableWalker pageTable;
    private long sequence;

    /**
     * @param sequenceStart first value of the invalidate sequence (tests start it near the 64-bit wrap)
     * @param retry         runs a parked waiter again, once registered or once an invalidation ended; it may park
     *                      the waiter again
     */
    public IntervalNotifier(long sequenceStart, Consumer<W> retry) {
        this.sequence = sequenceStart;
        this.retry = retry;
    }

    // ---- registration -----------------------------------------------------------------------------------------

    /**
     * The host registered us: take the grant and page table, and treat every invalidation already in flight over
     * our interest as started (its end follows like any other). Parked waiters run again.
     */
    public void registered(MmCommand.Registered registration) {
        adopt(registration);
        for (MmCommand.InFlight f : registration.inFlight()) {
            inProgress.putIfAbsent(f.batch(), f.ranges());
        }
        retryParked();
    }

    /**
     * Broken on purpose (race catalogue {@code REGISTER_UNQUIESCED}): registers ignoring the invalidations in
     * flight, so a fault may install a page one of them is revoking.
     */
    public void registeredUnquiesced(MmCommand.Registered registration) {
        adopt(registration);
        retryParked();
    }

    private void adopt(MmCommand.Registered registration) {
        subscription = registration.subscription();
        grant = registration.grant();
        pageTable = registration.pageTable();
    }

    public boolean registered() {
        return subscription >= 0;
    }

    /** The current subscription, or -1 when not registered. */
    public long subscription() {
        return subscription;
    }

    /** The current access grant, or null when not registered. */
    public AccessGrant grant() {
        return grant;
    }

    /** The mm's page table as hardware walks it, or null when not registered. */
    public PageTableWalker pageTable() {
        return pageTable;
    }

    /** The subscriber gave its subscription up itself (unregister): same state as after a fence. */
    public void unregistered() {
        reset();
    }

    // ---- the read side (faults) ---------------------------------------------------------------------------------

    /** Sample before asking the host ({@code mmu_interval_read_begin}). */
    public long readBegin() {
        return sequence;
    }

    /**
     * After the host answered, before installing ({@code mmu_interval_read_retry}, KVM's
     * {@code mmu_invalidate_retry_gfn}): true when the answer may name a revoked frame, because an invalidation
     * ended or a fence happened since {@code sampled}, an invalidation over {@code va} is running now, or we are no
     * longer registered.
     */
    public boolean readRetry(long sampled, long va) {
        return sampled != sequence || invalidating(va) || subscription < 0;
    }

    /** As {@link #readRetry(long, long)} for a subscriber that tracks no address (any invalidation counts). */
    public boolean readRetry(long sampled) {
        return sampled != sequence || !inProgress.isEmpty() || subscription < 0;
    }

    /** An invalidation over {@code va} has started and not ended ({@code mmu_invalidate_retry_gfn}'s range test). */
    public boolean invalidating(long va) {
        if (inProgress.isEmpty()) {
            return false;
        }
        for (List<Range> ranges : inProgress.values()) {
            if (Range.anyContains(ranges, va)) {
                return true;
            }
        }
        return false;
    }

    /** How many invalidations are started and not ended ({@code ms_range_active}, {@code mmu_invalidate_in_progress}). */
    public int activeInvalidations() {
        return inProgress.size();
    }

    /** The sequence now (for subscribers that also bump on their own events, and for tests). */
    public long sequence() {
        return sequence;
    }

    /**
     * Moves the sequence without an end: for a subscriber whose own event (a guest page-table write, a memslot
     * change) makes earlier samples stale.
     */
    public void bump() {
        sequence++;
    }

    // ---- parked waiters ---------------------------------------------------------------------------------------

    /** Wait for registration or for the invalidation over the waiter's address to end. */
    public void park(W waiter) {
        parked.add(waiter);
    }

    public int parkedCount() {
        return parked.size();
    }

    /** Hands every parked waiter over to the caller and forgets them (a subscriber that stops answers them). */
    public List<W> takeParked() {
        List<W> all = new ArrayList<>(parked);
        parked.clear();
        return all;
    }

    private void retryParked() {
        if (parked.isEmpty() || retry == null) {
            return;
        }
        for (W w : takeParked()) {
            retry.accept(w); // may park it again
        }
    }

    // ---- notifications ----------------------------------------------------------------------------------------

    /**
     * Does the protocol's part of {@code n} and calls {@code handler} for the subscriber's part. A message for an
     * earlier subscription (one that was fenced) is answered as done, since that subscription holds nothing, and
     * reaches no handler.
     *
     * @return false when the message was for an earlier subscription
     */
    public boolean dispatch(MmuNotification n, Handler handler) {
        if (n instanceof MmuNotification.Fenced) {
            MmuNotification.Fenced f = (MmuNotification.Fenced) n;
            if (f.subscription() >= 0 && f.subscription() != subscription) {
                return false;
            }
            reset();
            handler.fenced(f);
            return true;
        }
        if (n.subscription() != subscription || subscription < 0) {
            answerStale(n);
            return false;
        }
        if (n instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) n;
            inProgress.putIfAbsent(s.batch(), s.ranges());
            handler.invalidateStart(s); // a duplicate is acknowledged again: the host ignores the second ack
        } else if (n instanceof MmuNotification.InvalidateEnd) {
            MmuNotification.InvalidateEnd e = (MmuNotification.InvalidateEnd) n;
            if (inProgress.remove(e.batch()) == null) {
                return true; // a duplicate, or the end of a start we never saw (fenced meanwhile)
            }
            sequence++; // 64-bit, compared with == only
            retryParked();
            handler.invalidateEnd(e);
        } else if (n instanceof MmuNotification.Release) {
            handler.release((MmuNotification.Release) n);
        } else if (n instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung q = (MmuNotification.ClearYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), handler.young(q.range(), true)));
        } else if (n instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung q = (MmuNotification.TestYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(),
                    handler.young(q.range(), false)));
        }
        return true;
    }

    private static void answerStale(MmuNotification n) {
        if (n instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) n;
            s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
        } else if (n instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) n;
            r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
        } else if (n instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung q = (MmuNotification.ClearYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), false));
        } else if (n instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung q = (MmuNotification.TestYoung) n;
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), false));
        }
    }

    /** Back to unregistered: whatever was sampled before is stale, and nothing is in progress for us any more. */
    private void reset() {
        subscription = -1;
        grant = null;
        pageTable = null;
        inProgress.clear();
        sequence++;
    }
}
