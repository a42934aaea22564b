package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.config.NotifierSettings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.AddressSpace;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.HandlerTable;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmCounters;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The notifier side of one mm: it turns a PTE change into invalidations under the delivery strategy, tracks every
 * batch in flight (who owes an ack, which frames it holds), enforces ack deadlines by fencing, and frees a batch's
 * frames only once every subscriber acked or was fenced (DESIGN.md principle 3). It lives inside the mm's actor and
 * runs on its thread: the actor's mailbox is still the page-table lock.
 *
 * <p>The actor hears back through {@link Owner}: when a batch completes, parked faults retry and a barrier lifts.
 */
public final class MmNotifier {
    /** What the owning actor does when a batch completes. */
    public interface Owner {
        void batchCompleted(long batch);
    }

    /**
     * The mm's one ack-deadline timer fired: some batch's earliest deadline may have passed. One timer per mm, not
     * per batch: batches are acked long before their deadline, and arming and cancelling a timer for each was a
     * measurable share of every invalidation (issue 16).
     */
    enum AckDeadline implements MmCommand.Internal {
        CHECK
    }

    /**
     * Sent by the mm to itself when it queued a batch: it arrives after every message that was in the mailbox then,
     * so the changes those messages make join the queued batch before it is told (D88).
     */
    enum SendQueued implements MmCommand.Internal {
        NOW
    }

    /** A fenced subscriber may still be inside its access section: look again before freeing. */
    record FencePoll(long batch) implements MmCommand.Internal {
    }

    private final ActorContext<MmCommand> context;
    private final TimerScheduler<MmCommand> timers;
    private final AddressSpace space;
    private final MmCounters counters;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final NotifierSettings settings;
    private final DeliveryStrategy strategy;
    /** A race-catalogue variant under test, or NONE. */
    private final Variant variant;
    private final Gather gather;
    private final Owner owner;
    /**
     * Where subscribers answer: the mm's own ref, narrowed to the replies, which are mm messages themselves. Not a
     * message adapter: that wrapped every ack twice (an adapter message, then a protocol record) and ran a function
     * on it, one more hop per ack (issue 16).
     */
    private final ActorRef<NotifierReply> replyTo;
    private final Subscriptions subscriptions;
    private final YoungQueries young;
    private final Map<Long, Batch> batches = new LinkedHashMap<>();
    private final DirtyTracker dirty;
    private final Fencing fencing;
    private long nextBatch = 1;
    /** The barrier batch holding the "mmap lock", or null. */
    private Batch barrier;
    /** The batch applied and held but not yet told, which later changes of its kind join; or null (D88). */
    private Batch queued;
    /** True while a {@link SendQueued} is on its way: one in the mailbox sends whatever is queued when it arrives. */
    private boolean sendPending;

    public MmNotifier(ActorContext<MmCommand> context, TimerScheduler<MmCommand> timers, AddressSpace space,
                      PhysicalMemory memory, CoherenceEvents events, NotifierSettings settings, Variant variant,
                      Gather gather, Owner owner) {
        this.context = context;
        this.timers = timers;
        this.space = space;
        this.counters = space.counters();
        this.memory = memory;
        this.events = events;
        this.settings = settings;
        this.strategy = DeliveryStrategy.of(settings.strategy());
        this.variant = variant;
        this.gather = gather;
        this.owner = owner;
        this.replyTo = context.getSelf().narrow();
        this.subscriptions = new Subscriptions(context);
        this.young = new YoungQueries(space, subscriptions, timers, replyTo);
        this.dirty = new DirtyTracker(space.pageTable(), memory, batches, variant);
        this.fencing = new Fencing(this, context, timers, space.id(), counters, events, subscriptions, dirty, batches);
    }

    // ---- state the actor asks about ---------------------------------------------------------------------------

    public boolean hasSubscribers() {
        return !subscriptions.isEmpty();
    }

    /** True while a barrier invalidation holds every other mm operation back. */
    public boolean barrierActive() {
        return barrier != null;
    }

    public boolean idle() {
        return batches.isEmpty();
    }

    /** The batch whose applied change covers {@code va} and is not complete, or null: a fault there must wait. */
    public Batch inFlightOver(long va) {
        if (batches.isEmpty()) {
            return null;
        }
        for (Batch b : batches.values()) {
            if (b.changeApplied && b.covers(va)) {
                return b;
            }
        }
        return null;
    }

    /** A page migration still in flight, or null. */
    public Batch migrationInFlight() {
        for (Batch b : batches.values()) {
            if (b.event == InvalidationEvent.MIGRATE && !b.ended) {
                return b;
            }
        }
        return null;
    }

    // ---- messages routed here by the actor ----------------------------------------------------------------------

    /**
     * Adds a typed handler for each of the notifier's own messages (replies, deadlines, fence polls, aging
     * timeouts, subscriber deaths) to the mm's handlers. What the actor does next is the actor's business.
     */
    public HandlerTable<MmCommand> addHandlers(HandlerTable<MmCommand> table) {
        return table
                .on(NotifierReply.Ack.class, this::onAck)
                .on(NotifierReply.Nack.class, this::onNack)
                .on(NotifierReply.YoungReport.class, young::onReport)
                .on(AckDeadline.class, m -> fencing.onAckDeadline())
                .on(FencePoll.class, m -> onFencePoll(m.batch()))
                .on(SendQueued.class, m -> {
                    sendPending = false;
                    sendQueued();
                })
                .on(YoungQueries.Timeout.class, young::onTimeout)
                .on(Subscriptions.SubscriberDied.class, m -> fencing.onSubscriberDied(m.ref()));
    }

    private void onFencePoll(long batchId) {
        Batch b = batches.get(batchId);
        if (b != null) {
            tryFinish(b);
        }
    }

    public void age(MmCommand.Age a) {
        young.ask(a);
    }

    // ---- changes ------------------------------------------------------------------------------------------------

    /** Runs a PTE change under the delivery strategy; {@code then} runs when every subscriber acked or was fenced. */
    public void changeThen(InvalidationEvent event, List<Range> intent, Consumer<Gather> apply, Runnable then) {
        Batch b = change(event, intent, true, apply, null);
        if (b == null) {
            then.run();
        } else {
            b.onComplete(then);
        }
    }

    /**
     * Applies {@code apply} when the strategy's {@link ChangeTiming} says: now (after-change and mark-first
     * strategies) or once all acked (barrier strategies). Returns the batch
     * in flight, or null when no subscriber had to hear about it and the change is complete. {@code beforeRelease}
     * (may be null) runs just before the gathered frames are released, whichever path releases them.
     */
    public Batch change(InvalidationEvent event, List<Range> intent, boolean blockable, Consumer<Gather> apply,
                 Runnable beforeRelease) {
        Batch b;
        if (variant == Variant.FREE_BEFORE_ACK) {
            // Broken on purpose: change, notify, and free at once, as if the acknowledgements did not matter.
            gather.reset();
            apply.accept(gather);
            List<Range> changed = gather.ranges();
            b = changed.isEmpty() ? null : open(event, List.copyOf(changed), blockable, false);
            if (b != null) {
                b.changeApplied = true;
            }
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            releaseNow(gather);
            return b;
        }
        b = strategy.timing().run(this, gather, event, intent, blockable, apply);
        if (b == null) {
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            releaseNow(gather);
            return null;
        }
        if (beforeRelease != null) {
            b.beforeRelease(beforeRelease);
        }
        return b;
    }

    /**
     * A change that must not sleep, under a barrier whatever the strategy (the OOM reaper's
     * {@code mmu_notifier_invalidate_range_start_nonblock}): applied once every overlapping subscriber acked, not
     * at all when one refused. {@code then} hears whether it was applied, once the batch completed (at once when
     * nobody overlaps; then the change is applied and its frames freed here).
     */
    public void nonBlockingChangeThen(InvalidationEvent event, List<Range> ranges, Consumer<Gather> apply,
                                      Consumer<Boolean> then) {
        Batch b = open(event, ranges, false, true);
        if (b == null) {
            gather.reset();
            apply.accept(gather);
            releaseNow(gather);
            then.accept(true);
            return;
        }
        b.change = () -> {
            gather.reset();
            apply.accept(gather);
            b.hold(gather);
        };
        b.onComplete(() -> then.accept(!b.nacked));
    }

    /** Tells every overlapping subscriber; null when none overlaps. */
    Batch open(InvalidationEvent event, List<Range> ranges, boolean blockable, boolean isBarrier) {
        if (queued != null) {
            sendQueued(); // subscribers hear of changes in the order the mm made them
        }
        Batch b = null;
        for (Subscription s : subscriptions.all()) {
            List<Range> mine = s.interest.clip(ranges);
            if (mine.isEmpty()) {
                continue;
            }
            if (b == null) {
                b = new Batch(nextBatch++, event, ranges, blockable, isBarrier, System.nanoTime());
                counters.invalidations++;
                counters.batches++;
            }
            tell(b, s, mine);
        }
        if (b != null) {
            batches.put(b.key, b);
            if (isBarrier) {
                barrier = b;
            }
            events.invalidationStarted(space.id(), b.id, ranges, event);
        }
        return b;
    }

    /** Sends {@code s} its part of {@code b}: the start messages of the ranges it must hear about. */
    private void tell(Batch b, Subscription s, List<Range> mine) {
        Batch.Part part = new Batch.Part(s, fitted(strategy.messages(mine, settings.maxRangesPerMessage())));
        b.addPart(part);
        for (int m = 0; m < part.messages.size(); m++) {
            s.ref.tell(new MmuNotification.InvalidateStart(s.id, space.id(), Batch.notificationId(b.id, m),
                    part.messages.get(m), b.event, b.blockable, replyTo));
            counters.sent(s.id);
        }
        fencing.trackDeadline(b, s);
    }

    /**
     * The after-change timing's way in: {@code changed} (a copy the batch may keep) was applied and its released
     * frames are in {@code gather}. Without coalescing the subscribers are told now. With it (GATHER, D88) the change
     * joins the batch already queued when it is of the same kind and fits, or becomes a queued batch of its own,
     * told once the mm has served what its mailbox held: until then it holds its frames and faults over it wait, as
     * for any batch in flight. Null when no subscriber overlaps.
     */
    Batch openAfterChange(InvalidationEvent event, List<Range> changed, boolean blockable, Gather gather) {
        if (!coalescing(event)) {
            Batch b = open(event, changed, blockable, false);
            if (b != null) {
                b.applied(gather);
            }
            return b;
        }
        if (!anyOverlaps(changed)) {
            return null;
        }
        counters.invalidations++;
        Batch q = queued;
        if (q != null && q.event == event && q.blockable == blockable && fits(q, changed)) {
            q.join(changed, gather);
            return q;
        }
        if (q != null) {
            sendQueued();
        }
        Batch b = new Batch(nextBatch++, event, changed, blockable, false, System.nanoTime());
        counters.batches++;
        b.queue();
        b.applied(gather);
        batches.put(b.key, b);
        queued = b;
        if (!sendPending) {
            sendPending = true;
            context.getSelf().tell(SendQueued.NOW);
        }
        return b;
    }

    /** Coalescing is GATHER's, and never for a migration (its own protocol watches the batch's end). */
    private boolean coalescing(InvalidationEvent event) {
        return settings.coalesce() && strategy == GatherDelivery.INSTANCE && event != InvalidationEvent.MIGRATE
                && variant != Variant.FREE_BEFORE_ACK;
    }

    private boolean anyOverlaps(List<Range> ranges) {
        for (Subscription s : subscriptions.all()) {
            for (int i = 0; i < ranges.size(); i++) {
                if (s.interest.overlaps(ranges.get(i))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether {@code changed} may join {@code q}: the union still fits one message and the page cap. */
    private boolean fits(Batch q, List<Range> changed) {
        if (q.pages + Range.totalPages(changed) > settings.maxPagesPerBatch()) {
            return false;
        }
        return q.ranges.size() + changed.size() <= settings.maxRangesPerMessage()
                || Range.union(q.ranges, changed).size() <= settings.maxRangesPerMessage();
    }

    /** Tells the subscribers about the queued batch, if any; one that nobody overlaps any more completes now. */
    private void sendQueued() {
        Batch b = queued;
        if (b == null) {
            return;
        }
        queued = null;
        b.send();
        for (Subscription s : subscriptions.all()) {
            List<Range> mine = s.interest.clip(b.ranges);
            if (!mine.isEmpty()) {
                tell(b, s, mine);
            }
        }
        events.invalidationStarted(space.id(), b.id, b.ranges, b.event);
        if (b.partCount() == 0) {
            tryFinish(b); // its subscribers left or were fenced while it was queued
        }
    }

    /** Regroups a part too long for its message indexes to fit a notification id (a per-page storm over >32 GiB). */
    private static List<List<Range>> fitted(List<List<Range>> messages) {
        if (messages.size() <= Batch.MAX_MESSAGES) {
            return messages;
        }
        int per = (messages.size() + Batch.MAX_MESSAGES - 1) / Batch.MAX_MESSAGES;
        List<List<Range>> out = new ArrayList<>(Batch.MAX_MESSAGES);
        for (int i = 0; i < messages.size(); i += per) {
            List<Range> group = new ArrayList<>();
            for (int j = i; j < Math.min(messages.size(), i + per); j++) {
                group.addAll(messages.get(j));
            }
            out.add(group);
        }
        return out;
    }

    /**
     * {@code mmu_notifier_release}: every subscriber drops everything before the address space goes; {@code
     * teardown} runs once all did (at once when nobody is subscribed).
     */
    public void release(Runnable teardown) {
        sendQueued(); // what the mm changed before it exits is told before the release
        if (subscriptions.isEmpty()) {
            teardown.run();
            return;
        }
        Batch release = new Batch(nextBatch++, InvalidationEvent.RELEASE, List.of(), true, true, System.nanoTime());
        batches.put(release.key, release);
        barrier = release;
        for (Subscription s : subscriptions.all()) {
            Batch.Part part = new Batch.Part(s, List.of(List.of()));
            release.addPart(part);
            s.ref.tell(new MmuNotification.Release(s.id, space.id(), release.id, replyTo));
            counters.sent(s.id);
            fencing.trackDeadline(release, s);
        }
        events.invalidationStarted(space.id(), release.id, List.of(), InvalidationEvent.RELEASE);
        release.change = () -> {
            for (Subscription s : List.copyOf(subscriptions.all())) {
                subscriptions.remove(s);
            }
            // Having released, a subscriber holds nothing: what it still owed older batches is settled.
            for (Batch other : List.copyOf(batches.values())) {
                if (other != release) {
                    for (int i = 0; i < other.partCount(); i++) {
                        other.part(i).awaiting = 0;
                    }
                    tryFinish(other);
                }
            }
            teardown.run();
        };
        release.ended = true; // release has no end message
    }

    public void releaseNow(Gather g) {
        for (int i = 0; i < g.frameCount(); i++) {
            memory.put(g.pfn(i));
        }
    }

    // ---- acks (deadlines and fences are Fencing's) ------------------------------------------------------------

    private void onAck(NotifierReply.Ack ack) {
        Batch b = counted(ack.subscription(), ack.batch());
        if (b == null) {
            return;
        }
        counters.acked(b.startedNanos, System.nanoTime());
        dirty.reported(ack.dirty());
        if (b.part(ack.subscription()).awaiting == 0) {
            events.invalidationAcked(space.id(), b.id, ack.subscription());
        }
        tryFinish(b);
    }

    private void onNack(NotifierReply.Nack nack) {
        Batch b = counted(nack.subscription(), nack.batch());
        if (b == null) {
            return;
        }
        counters.nacks++;
        b.part(nack.subscription()).nacked = true;
        b.nacked = true;
        tryFinish(b);
    }

    /** The batch a reply to notification {@code id} counts for, or null when the reply is late or a duplicate. */
    private Batch counted(long subscription, long id) {
        Batch b = batches.get(Batch.batchOf(id));
        if (b == null) {
            counters.ignoredReplies++;
            return null; // late reply from a fenced subscriber, or a duplicate: the batch is gone
        }
        Batch.Part part = b.part(subscription);
        if (part == null || !part.reply(Batch.messageOf(id))) {
            counters.ignoredReplies++;
            return null; // a duplicate (or a reply to a message never sent) must not end the batch early
        }
        return b;
    }

    /** Clears what {@code s} still owes every batch, finishing those that waited only for it. */
    void settle(Subscription s) {
        for (Batch b : List.copyOf(batches.values())) {
            Batch.Part part = b.part(s.id);
            if (part != null && part.awaiting > 0) {
                part.awaiting = 0;
                tryFinish(b);
            }
        }
    }

    /** Moves a batch forward once everybody replied: apply (barrier), end, then free after fenced grants drain. */
    void tryFinish(Batch b) {
        if (b.queued || !b.allReplied() || !batches.containsKey(b.key)) {
            return;
        }
        if (b.barrier && !b.changeApplied) {
            b.changeApplied = true;
            if (!b.nacked && b.change != null) {
                b.change.run();
            }
            if (barrier == b) {
                barrier = null;
            }
        }
        if (!b.ended) {
            b.ended = true;
            sendEnds(b);
        }
        for (int i = 0; i < b.fencedGrants.size(); i++) {
            if (!b.fencedGrants.get(i).quiescent()) {
                timers.startSingleTimer(new FencePoll(b.id), settings.fencePollInterval());
                return;
            }
        }
        batches.remove(b.key);
        for (Runnable r : b.beforeRelease) {
            r.run();
        }
        for (int i = 0; i < b.frames; i++) {
            memory.put(b.pfns[i]);
        }
        events.invalidationCompleted(space.id(), b.id, System.nanoTime() - b.startedNanos);
        // The deadline timer is not cancelled: when it fires it finds this batch gone and re-arms for the next.
        for (Runnable r : b.onComplete) {
            r.run();
        }
        owner.batchCompleted(b.id);
    }

    /** invalidate_range_end, paired with every start, for everyone who saw the start or joined while in flight. */
    private void sendEnds(Batch b) {
        if (b.event == InvalidationEvent.RELEASE) {
            return;
        }
        for (int i = 0; i < b.partCount(); i++) {
            Batch.Part part = b.part(i);
            if (subscriptions.contains(part.sub.id)) {
                for (int m = 0; m < part.messages.size(); m++) {
                    part.sub.ref.tell(new MmuNotification.InvalidateEnd(part.sub.id, space.id(),
                            Batch.notificationId(b.id, m), part.messages.get(m)));
                    counters.sent(part.sub.id);
                }
            }
        }
        for (Subscription late : b.lateJoiners) {
            if (subscriptions.contains(late.id)) {
                late.ref.tell(new MmuNotification.InvalidateEnd(late.id, space.id(), b.id, late.interest.clip(b.ranges)));
                counters.sent(late.id);
            }
        }
    }

    // ---- registration -------------------------------------------------------------------------------------------

    /** Registration is a mailbox position: the newcomer is handed every invalidation in flight over its interest. */
    public void register(MmCommand.Register r) {
        Duration deadline = r.ackDeadline() != null ? r.ackDeadline() : settings.ackDeadline();
        Subscription s = subscriptions.add(r.subscriber(), r.interest(), r.agent(), r.name(), deadline);
        List<MmCommand.InFlight> inFlight = new ArrayList<>();
        for (Batch b : batches.values()) {
            if (b.ended || b.queued || b.event == InvalidationEvent.RELEASE
                    || variant == Variant.REGISTER_UNQUIESCED) {
                // A queued batch is told to every subscription there is when it is sent, the newcomer included.
                continue;
            }
            List<Range> mine = s.interest.clip(b.ranges);
            if (!mine.isEmpty()) {
                inFlight.add(new MmCommand.InFlight(b.id, mine));
                b.lateJoiner(s);
            }
        }
        r.replyTo().tell(new MmCommand.Registered(space.id(), s.id, s.grant, inFlight, space.pageTable()));
    }

    public void unregister(MmCommand.Unregister u) {
        Subscription s = subscriptions.get(u.subscription());
        if (s == null) {
            u.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "no subscription " + u.subscription()));
            return;
        }
        subscriptions.remove(s);
        settle(s);
        u.replyTo().tell(MmResult.Done.ZERO);
    }

    // ---- inspection ---------------------------------------------------------------------------------------------

    public int subscriberCount() {
        return subscriptions.size();
    }

    public long heldFrames() {
        long pending = 0;
        for (Batch b : batches.values()) {
            pending += b.heldFrames();
        }
        return pending;
    }

    /** Every frame a batch in flight holds a reference to (the pending-free list). */
    public int[] heldPfns() {
        int total = 0;
        for (Batch b : batches.values()) {
            total += b.frames;
        }
        int[] pending = new int[total];
        int n = 0;
        for (Batch b : batches.values()) {
            System.arraycopy(b.pfns, 0, pending, n, b.frames);
            n += b.frames;
        }
        return pending;
    }
}
