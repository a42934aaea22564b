package io.shadowmmu.cluster.exporter;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.PageCopy;
import io.shadowmmu.cluster.protocol.PageWrite;
import io.shadowmmu.cluster.protocol.Span;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.cluster.protocol.ToProxy;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The exporter-side end of one attachment. To the exporting mm it is an ordinary <em>sleeping</em> notifier
 * subscriber over the segment, so the host's deadline, fencing and grant machinery apply unchanged; to the importer
 * on the other node it is the interconnect: faults, data accesses and invalidations go through it.
 *
 * <p>Invalidation: each InvalidateStart is queued; while one {@link ToImporter.Invalidate} is in flight, further
 * ones are coalesced into the next message (one message in flight per importer: queue, and interrupt once). The mm's
 * batches are acknowledged only when the importer's ack for the message carrying them arrives, so the mm frees the
 * frames only after the remote node dropped its translations. No ack within the mm's deadline: the mm fences this
 * subscription (grant revoked) and we tell the importer. The importer's node leaves or is downed: the remote death
 * watch fires and we stop, which the mm treats as a dead subscriber holding nothing (its grant revoked first).
 *
 * <p>Data accesses run here, inside the attachment's {@link AccessGrant}, so a revoked grant cuts the importer off
 * without its help. The oracle of this node hears of the importer's translations from here: installed when a fault
 * answer leaves, removed when the importer acks an invalidation sent after it, revoked with the grant.
 */
public final class ExportProxy extends AbstractBehavior<ToProxy> {

    private record Notified(MmuNotification notification) implements ToProxy {
        @Override
        public long attachment() {
            return -1;
        }
    }

    private record Registered(MmCommand.Registered registration) implements ToProxy {
        @Override
        public long attachment() {
            return -1;
        }
    }

    /** The mm answered a forwarded fault; {@code sampled} is the notifier's sequence when we asked. */
    private record Paged(ToProxy.Fault fault, long sampled, PageReply reply) implements ToProxy {
        @Override
        public long attachment() {
            return fault.attachment();
        }
    }

    /** The mm answered one page of a range fetch; {@code sampled} as for {@link Paged}. */
    private record PagedForCopy(long fetch, long page, long sampled, PageReply reply) implements ToProxy {
        @Override
        public long attachment() {
            return -1;
        }
    }

    /** The fenced end has refused late arrivals long enough: it stops now. */
    private enum TombstoneExpired implements ToProxy {
        INSTANCE;

        @Override
        public long attachment() {
            return -1;
        }
    }

    /**
     * How long an end that was fenced, detached or left by its process keeps answering what was already on the wire
     * to it (refusing it), before it stops: longer than any in-flight message takes, shorter than anyone waits.
     */
    private static final Duration TOMBSTONE = Duration.ofSeconds(2);


    /** What the importer may hold: a fault answer for a page, and how many Invalidates had been sent before it. */
    private record HandedOut(int pfn, int generation, long sentBefore) {
    }

    private static final Duration FAULT_TIMEOUT = Duration.ofSeconds(30);

    private final Segment segment;
    private final long attachment;
    private final ActorRef<ToImporter> importer;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final ExporterCounters counters;
    private final ClusterSettings settings;
    private final long agent = AgentIds.next();
    private final String name;
    private final Map<Long, HandedOut> handedOut = new HashMap<>();
    private final InvalidationQueue queue;
    private final Map<Long, RangeFetch> fetches = new HashMap<>();
    private long nextFetch;
    /**
     * Our side of the subscription (read_begin/read_retry over the mm's starts and ends): a fault answer sampled
     * before an invalidation of its page ended, or while one runs, is asked again, so that what we hand out is
     * always covered by a later Invalidate.
     */
    private final IntervalNotifier<Void> notifier = new IntervalNotifier<>(0, w -> { });
    private final IntervalNotifier.Handler handler = new Subscriber();
    /** Kept past a fence (the notifier forgets it) so the tombstone can revoke it. */
    private AccessGrant grant;
    private boolean fencedNow;

    public static Behavior<ToProxy> create(Segment segment, long attachment, ActorRef<ToImporter> importer,
                                           PhysicalMemory memory, ExporterCounters counters,
                                           ClusterSettings settings) {
        return Behaviors.setup(ctx -> new ExportProxy(ctx, segment, attachment, importer, memory, counters,
                settings));
    }

    private ExportProxy(ActorContext<ToProxy> context, Segment segment, long attachment,
                        ActorRef<ToImporter> importer, PhysicalMemory memory, ExporterCounters counters,
                        ClusterSettings settings) {
        super(context);
        this.segment = segment;
        this.attachment = attachment;
        this.importer = importer;
        this.memory = memory;
        this.events = memory.events();
        this.counters = counters;
        this.settings = settings;
        this.queue = new InvalidationQueue(settings.invalidationsInFlight());
        this.name = "importer " + importer.path() + " of segment " + segment.id();
        events.agentNamed(agent, name);
        events.mirrors(agent, segment.mmId()); // I2: the importer's translations are of the exporting mm's frames
        // Liveness of the importer's node: the cluster's failure detector, then the split-brain resolver's downing,
        // end in Terminated here (the remote death watch).
        context.watch(importer);
        context.watch(segment.mm());
        // xpmem attach: a subscription over the segment only, deadline from the cluster settings (a round trip).
        segment.mm().tell(new MmCommand.Register(context.messageAdapter(MmuNotification.class, Notified::new),
                Interest.interval(segment.start(), segment.end()), agent, name, settings.ackDeadline(),
                context.messageAdapter(MmCommand.Registered.class, Registered::new)));
    }

    @Override
    public Receive<ToProxy> createReceive() {
        return newReceiveBuilder()
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(Notified.class, n -> onNotification(n.notification()))
                .onMessage(ToProxy.Fault.class, this::onFault)
                .onMessage(Paged.class, this::onPaged)
                .onMessage(ToProxy.FetchRange.class, this::onFetchRange)
                .onMessage(PagedForCopy.class, this::onPagedForCopy)
                .onMessage(ToProxy.WriteBack.class, this::onWriteBack)
                .onMessage(ToProxy.Access.class, this::onAccess)
                .onMessage(ToProxy.InvalidateAck.class, this::onAck)
                .onMessage(ToProxy.Detach.class, d -> {
                    counters.detached.incrementAndGet();
                    return stop();
                })
                .onSignal(Terminated.class, t -> t.getRef().equals(segment.mm()) ? onProcessGone() : onImporterGone())
                .build();
    }

    private Behavior<ToProxy> onRegistered(Registered r) {
        notifier.registered(r.registration());
        grant = r.registration().grant();
        // Invalidations in flight at registration need nothing from us: the importer holds nothing yet, and the mm
        // parks faults on those ranges until they complete.
        counters.attaches.incrementAndGet();
        importer.tell(new ToImporter.Attached(segment.id(), attachment, getContext().getSelf(), segment.start(),
                segment.length(), segment.writable()));
        return this;
    }

    // ---- faults --------------------------------------------------------------------------------------------------

    private Behavior<ToProxy> onFault(ToProxy.Fault f) {
        if (f.attachment() != attachment || grant == null) {
            return this;
        }
        if (!segment.containsPage(f.page())) {
            importer.tell(new ToImporter.FaultDenied(attachment, f.page(), "page 0x" + Long.toHexString(f.page())
                    + " is outside segment " + segment.id()));
            return this;
        }
        if (f.write() && !segment.writable()) {
            importer.tell(new ToImporter.FaultDenied(attachment, f.page(), "segment " + segment.id()
                    + " is exported read-only"));
            return this;
        }
        counters.faults.incrementAndGet();
        ask(f);
        return this;
    }

    private void ask(ToProxy.Fault f) {
        long asked = notifier.readBegin(); // mmu_interval_read_begin
        getContext().ask(PageReply.class, segment.mm(), FAULT_TIMEOUT,
                replyTo -> new MmCommand.GetUserPage(f.page(), f.write(), replyTo),
                (reply, failure) -> new Paged(f, asked, reply));
    }

    private Behavior<ToProxy> onPaged(Paged p) {
        boolean raced = notifier.readRetry(p.sampled(), p.fault().page()); // mmu_interval_read_retry
        if (grant == null || grant.isRevoked()) {
            return this;
        }
        if (!(p.reply() instanceof PageReply.Granted)) {
            String why = p.reply() instanceof PageReply.Denied
                    ? ((PageReply.Denied) p.reply()).errno() + " " + ((PageReply.Denied) p.reply()).detail()
                    : "the exporting process did not answer";
            importer.tell(new ToImporter.FaultDenied(attachment, p.fault().page(), why));
            return this;
        }
        if (raced) {
            // The mm started an invalidation of this page after it answered (the answer came by a separate path):
            // ask again, so that what we hand out is always covered by a later Invalidate.
            counters.faultRetries.incrementAndGet();
            ask(p.fault());
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        long page = p.fault().page();
        if (!handOut(page, g)) {
            return this; // fenced meanwhile: the Fenced notification is on its way
        }
        ToImporter.FaultGranted reply = new ToImporter.FaultGranted(attachment, page, g.pfn(), g.generation(),
                g.writable(), p.fault().sequence());
        counters.faultsAnswered.incrementAndGet();
        if (settings.faultReplyDelay().isZero()) {
            importer.tell(reply);
        } else {
            // Test knob: the answer spends this long on the interconnect, overtaken by later invalidations.
            getContext().scheduleOnce(settings.faultReplyDelay(), importer, reply);
        }
        return this;
    }

    // ---- range faults and write-back (copying importers) ----------------------------------------------------------

    private Behavior<ToProxy> onFetchRange(ToProxy.FetchRange f) {
        if (f.attachment() != attachment || grant == null) {
            return this;
        }
        long last = f.firstPage() + (f.pages() - 1L) * PhysicalMemory.PAGE_SIZE;
        String refused = f.pages() < 1 || !segment.containsPage(f.firstPage()) || !segment.containsPage(last)
                ? "pages 0x" + Long.toHexString(f.firstPage()) + " + " + f.pages() + " are outside segment "
                + segment.id()
                : f.write() && !segment.writable() ? "segment " + segment.id() + " is exported read-only" : null;
        RangeFetch fetch = new RangeFetch(nextFetch++, f);
        if (refused != null) {
            for (int i = 0; i < Math.max(1, f.pages()); i++) {
                fetch.denied(f.firstPage() + i * PhysicalMemory.PAGE_SIZE, refused);
            }
            importer.tell(fetch.reply());
            return this;
        }
        counters.faults.incrementAndGet();
        fetches.put(fetch.id, fetch);
        for (int i = 0; i < f.pages(); i++) {
            askForCopy(fetch, f.firstPage() + i * PhysicalMemory.PAGE_SIZE);
        }
        return this;
    }

    private void askForCopy(RangeFetch fetch, long page) {
        long asked = notifier.readBegin(); // mmu_interval_read_begin
        getContext().ask(PageReply.class, segment.mm(), FAULT_TIMEOUT,
                replyTo -> new MmCommand.GetUserPage(page, fetch.request.write(), replyTo),
                (reply, failure) -> new PagedForCopy(fetch.id, page, asked, reply));
    }

    private Behavior<ToProxy> onPagedForCopy(PagedForCopy p) {
        boolean raced = notifier.readRetry(p.sampled(), p.page());
        RangeFetch fetch = fetches.get(p.fetch());
        if (fetch == null || grant == null || grant.isRevoked()) {
            return this;
        }
        boolean last;
        if (!(p.reply() instanceof PageReply.Granted)) {
            last = fetch.denied(p.page(), p.reply() instanceof PageReply.Denied
                    ? ((PageReply.Denied) p.reply()).errno() + " " + ((PageReply.Denied) p.reply()).detail()
                    : "the exporting process did not answer");
        } else {
            PageReply.Granted g = (PageReply.Granted) p.reply();
            long[] contents = raced ? null : copyOf(g);
            if (contents == null) {
                // Raced an invalidation, or the frame changed since the answer: ask again (as for faults).
                counters.faultRetries.incrementAndGet();
                askForCopy(fetch, p.page());
                return this;
            }
            if (!handOut(p.page(), g)) {
                return this; // fenced meanwhile: the Fenced notification is on its way
            }
            counters.pagesCopied.incrementAndGet();
            last = fetch.copied(new PageCopy(p.page(), g.pfn(), g.generation(), g.writable(), contents));
        }
        if (last) {
            fetches.remove(fetch.id);
            counters.faultsAnswered.incrementAndGet();
            if (settings.faultReplyDelay().isZero()) {
                importer.tell(fetch.reply());
            } else {
                getContext().scheduleOnce(settings.faultReplyDelay(), importer, fetch.reply());
            }
        }
        return this;
    }

    /** The granted frame's contents, read under the attachment's grant; null if the frame is no longer that one. */
    private long[] copyOf(PageReply.Granted g) {
        if (!grant.enter()) {
            return null;
        }
        try {
            int pfn = g.pfn();
            if (memory.refcount(pfn) == 0 || memory.generation(pfn) != g.generation()) {
                return null;
            }
            return memory.snapshot(pfn);
        } finally {
            grant.exit();
        }
    }

    /**
     * What a copying importer wrote, into the frames it copied. They are still the mm's: the ack releasing them comes
     * after this message. A frame that is free or reused is a use after free (I3), reported here where the frame is.
     */
    private Behavior<ToProxy> onWriteBack(ToProxy.WriteBack w) {
        if (w.attachment() != attachment || grant == null || !grant.enter()) {
            counters.refusedWriteBacks.addAndGet(w.pages().size());
            return this;
        }
        try {
            for (PageWrite p : w.pages()) {
                int pfn = p.pfn();
                if (pfn < 0 || pfn >= memory.totalFrames() || memory.refcount(pfn) == 0
                        || memory.generation(pfn) != p.generation()) {
                    counters.staleAccesses.incrementAndGet();
                    events.violation(Invariant.I3, agent, name + " wrote back 0x" + Long.toHexString(p.page())
                            + " to frame " + pfn + " generation " + p.generation() + ", which is no longer it");
                    continue;
                }
                if (p.words() == null) {
                    memory.restore(pfn, p.values());
                } else {
                    for (int i = 0; i < p.words().length; i++) {
                        memory.write(pfn, p.words()[i], p.values()[i]);
                    }
                }
                memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY); // a remote write dirties the page (I6)
                counters.writtenBack.incrementAndGet();
            }
        } finally {
            grant.exit();
        }
        return this;
    }

    /**
     * The oracle of this node hears the importer may now hold {@code page} in frame {@code g.pfn()}; false (nothing
     * handed out) if the mm fenced this attachment meanwhile. The report is made inside the grant: a fence revokes
     * the grant, then the agent's translations in the oracle, from the mm's thread, so an install reported just
     * after that would outlive the fence. Re-checked after the report, inside, while the mm cannot free the frame yet
     * (it waits for the grant to be quiescent): a revocation seen then takes the install back (the fence answers
     * the importer).
     */
    private boolean handOut(long page, PageReply.Granted g) {
        if (!grant.enter()) {
            return false;
        }
        try {
            HandedOut old = handedOut.put(page, new HandedOut(g.pfn(), g.generation(), queue.sent()));
            if (old != null && (old.pfn() != g.pfn() || old.generation() != g.generation())) {
                events.translationRemoved(agent, 0, segment.mmId(), page, old.pfn(), old.generation());
            }
            events.translationInstalled(agent, 0, segment.mmId(), page, g.pfn(), g.generation(), g.writable());
            if (grant.isRevoked()) {
                handedOut.remove(page);
                events.translationRemoved(agent, 0, segment.mmId(), page, g.pfn(), g.generation());
                return false;
            }
            return true;
        } finally {
            grant.exit();
        }
    }

    // ---- data accesses -------------------------------------------------------------------------------------------

    private Behavior<ToProxy> onAccess(ToProxy.Access a) {
        if (a.attachment() != attachment || grant == null || !grant.enter()) {
            counters.refusedAccesses.incrementAndGet();
            a.replyTo().tell(AccessResult.refused(a.offset(), "attachment " + a.attachment() + " is fenced"));
            return this;
        }
        try {
            int pfn = a.pfn();
            if (pfn < 0 || pfn >= memory.totalFrames() || memory.refcount(pfn) == 0
                    || memory.generation(pfn) != a.generation()) {
                counters.staleAccesses.incrementAndGet();
                String state = pfn < 0 || pfn >= memory.totalFrames() ? "no such frame"
                        : memory.refcount(pfn) == 0 ? "free" : "now generation " + memory.generation(pfn);
                events.violation(Invariant.I3, agent, name + " accessed 0x" + Long.toHexString(a.va())
                        + " through frame " + pfn + " generation " + a.generation() + ", which is " + state);
                a.replyTo().tell(AccessResult.refused(a.offset(), "stale translation"));
                return this;
            }
            int word = (int) ((a.va() & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3);
            counters.accesses.incrementAndGet();
            if (a.write()) {
                memory.write(pfn, word, a.value());
                memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY); // a remote write dirties the page (I6)
                a.replyTo().tell(AccessResult.ok(a.offset(), a.value()));
            } else {
                a.replyTo().tell(AccessResult.ok(a.offset(), memory.read(pfn, word)));
            }
        } finally {
            grant.exit();
        }
        return this;
    }

    // ---- invalidation: the sleeping subscriber -------------------------------------------------------------------

    private Behavior<ToProxy> onNotification(MmuNotification n) {
        notifier.dispatch(n, handler);
        if (fencedNow) {
            return tombstone();
        }
        // InvalidateEnd: the notifier moved its sequence; the mm parks faults on the range until the batch completes.
        return this;
    }

    /** What this subscriber does on top of the notifier's bookkeeping. */
    private final class Subscriber implements IntervalNotifier.Handler {
        @Override
        public void invalidateStart(MmuNotification.InvalidateStart s) {
            List<Span> spans = spans(s.ranges());
            counters.batches.incrementAndGet();
            if (!s.blockable()) {
                // OOM-reaper style: a remote round trip is waiting, which a non-blockable caller must not do.
                s.replyTo().tell(new NotifierReply.Nack(s.subscription(), s.batch()));
                return;
            }
            send(queue.add(new InvalidationQueue.Owed(s.batch(), s.replyTo(), false), spans));
        }

        @Override
        public void release(MmuNotification.Release r) {
            notifier.bump(); // every answer sampled before the exit is stale
            counters.batches.incrementAndGet();
            send(queue.add(new InvalidationQueue.Owed(r.batch(), r.replyTo(), true),
                    List.of(new Span(segment.start(), segment.end()))));
        }

        @Override
        public boolean young(Range range, boolean clear) {
            return false; // accessed bits are not tracked across nodes: a remote user never keeps a page young
        }

        @Override
        public void fenced(MmuNotification.Fenced f) {
            counters.fencedByDeadline.incrementAndGet();
            getContext().getLog().debug("attachment {} fenced: {}", attachment, f.reason());
            importer.tell(new ToImporter.Fenced(attachment, f.reason()));
            fencedNow = true;
        }
    }

    private static List<Span> spans(List<Range> ranges) {
        List<Span> out = new ArrayList<>(ranges.size());
        for (Range r : ranges) {
            out.add(new Span(r.start(), r.end()));
        }
        return out;
    }

    /** At most the window's Invalidates in flight per importer (the queue decides); null: nothing to send now. */
    private void send(InvalidationQueue.Message m) {
        if (m == null) {
            return;
        }
        counters.invalidationsSent.incrementAndGet();
        counters.coalesced.addAndGet(m.owed().size() - 1);
        // Measured, not assumed: messages on the wire to this importer now that this one left.
        counters.maxInFlight.accumulateAndGet(queue.inFlight(), Math::max);
        importer.tell(new ToImporter.Invalidate(attachment, m.id(), m.spans()));
    }

    private Behavior<ToProxy> onAck(ToProxy.InvalidateAck a) {
        InvalidationQueue.Message done = a.attachment() == attachment ? queue.acked(a.invalidation()) : null;
        if (done == null) {
            return this; // a duplicate, or for an earlier attachment
        }
        counters.acks.incrementAndGet();
        counters.ackLatency(System.nanoTime() - done.sentNanos());
        forgetHandedOut(done);
        boolean released = false;
        for (InvalidationQueue.Owed o : done.owed()) {
            o.replyTo().tell(NotifierReply.Ack.clean(notifier.subscription(), o.batch()));
            released |= o.release();
        }
        if (released) {
            importer.tell(new ToImporter.Fenced(attachment, "the exporting process exited"));
            return tombstone();
        }
        send(queue.next());
        return this;
    }

    /** The importer dropped what this message named, and all it was handed before the message was sent. */
    private void forgetHandedOut(InvalidationQueue.Message done) {
        Iterator<Map.Entry<Long, HandedOut>> it = handedOut.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, HandedOut> e = it.next();
            HandedOut h = e.getValue();
            if (h.sentBefore() < done.id() && Span.anyContains(done.spans(), e.getKey())) {
                events.translationRemoved(agent, 0, segment.mmId(), e.getKey(), h.pfn(), h.generation());
                it.remove();
            }
        }
    }

    // ---- losing the importer -------------------------------------------------------------------------------------

    /** The exporting process is gone (it released us first when it exited normally). */
    private Behavior<ToProxy> onProcessGone() {
        importer.tell(new ToImporter.Fenced(attachment, "the exporting process exited"));
        return tombstone();
    }

    /** The importer's node left or was downed (or the importer stopped): fence by going away. */
    private Behavior<ToProxy> onImporterGone() {
        counters.fencedByNodeLoss.incrementAndGet();
        getContext().getLog().debug("attachment {}: importer {} is gone, fencing", attachment, importer.path());
        return stop();
    }

    /**
     * Revokes the grant (no access runs after this: they all run in this actor) and stops; the mm sees a dead
     * subscriber, revokes its translations in the oracle and counts whatever it owed as acknowledged.
     */
    private Behavior<ToProxy> stop() {
        if (grant != null) {
            grant.revoke();
        }
        return Behaviors.stopped();
    }

    /**
     * As {@link #stop()}, for an end the mm no longer counts on (fenced, released, or its process gone) while the
     * importer may not know yet: accesses and faults it sent before it heard are still on their way, and are answered
     * (refused) for a while rather than lost as dead letters, so no sender is left waiting for its timeout.
     */
    private Behavior<ToProxy> tombstone() {
        if (grant != null) {
            grant.revoke();
        }
        getContext().scheduleOnce(TOMBSTONE, getContext().getSelf(), TombstoneExpired.INSTANCE);
        return Behaviors.receive(ToProxy.class)
                .onMessage(ToProxy.Access.class, a -> {
                    counters.refusedAccesses.incrementAndGet();
                    a.replyTo().tell(AccessResult.refused(a.offset(), "attachment " + a.attachment() + " is fenced"));
                    return Behaviors.same();
                })
                .onMessage(ToProxy.Fault.class, f -> {
                    importer.tell(new ToImporter.FaultDenied(f.attachment(), f.page(), "attachment is fenced"));
                    return Behaviors.same();
                })
                .onMessage(ToProxy.WriteBack.class, w -> {
                    counters.refusedWriteBacks.addAndGet(w.pages().size()); // lost with the attachment
                    return Behaviors.same();
                })
                .onMessageEquals(TombstoneExpired.INSTANCE, Behaviors::stopped)
                .onAnyMessage(m -> Behaviors.same())
                .onSignal(Terminated.class, t -> Behaviors.same())
                .build();
    }
}
