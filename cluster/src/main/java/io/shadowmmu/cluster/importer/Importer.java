package io.shadowmmu.cluster.importer;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.PageCopy;
import io.shadowmmu.cluster.protocol.PageWrite;
import io.shadowmmu.cluster.protocol.Span;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.cluster.protocol.ToProxy;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One attachment of a segment exported by another node (XPMEM attach): the importer table (page -> remote frame
 * and generation), filled lazily by faults sent to the exporter, and emptied by the exporter's invalidations, which
 * it acknowledges over the network. Data accesses go to the exporter's memory by message.
 *
 * <p>The in-flight fault race (Robin Holt's, 2008): a fault answer the exporter sent before an invalidation may
 * arrive after this importer acknowledged that invalidation, when the frame may already be free. Every fault carries
 * the importer's invalidation sequence, bumped on each invalidation it receives; an answer whose sequence is not
 * the current one is thrown away and the fault asked again ({@code mmu_interval_read_retry} across nodes).
 *
 * <p>Fenced (no ack in time, the exporter's node gone, the process exited): drop everything and attach again after
 * a growing back-off. A refused attach (no such segment, or its process exited) is final. Accesses while detached
 * are refused, not queued.
 *
 * <p>Copying ({@link #copying}): the segment is mapped by ranges. A miss fetches the run of missing pages around it
 * (up to a block) in one {@link ToProxy.FetchRange}; the copies live in frames of this node (a local file's page
 * cache, see {@link LocalCopies}), and a hit reads or writes them with no message at all. An invalidation drops the
 * copies it names and sends back what they wrote ({@link ToProxy.WriteBack}) just before the ack, so the data lands
 * in the exporter's frames before the mm may free or move them. A fence drops the copies unwritten: the writes made
 * since the last invalidation are lost with the attachment (the exporter assumes its frames were written).
 */
public final class Importer extends AbstractBehavior<ToImporter> {

    /** One 8-byte access at {@code offset} into the segment. Local only. */
    public record Access(long offset, boolean write, long value, ActorRef<AccessResult> replyTo)
            implements ToImporter {
    }

    public record GetStats(ActorRef<Stats> replyTo) implements ToImporter {
    }

    /** Stop using the segment: tell the exporter and stop. */
    public enum Detach implements ToImporter {
        INSTANCE
    }

    /**
     * @param attached whether an attachment is live now
     * @param staleReplies fault answers thrown away because an invalidation overtook them
     * @param staleInstalled fault answers installed although stale (only under STALE_INFLIGHT_FAULT)
     * @param entries translations held (copies, when copying)
     * @param writtenBack copies sent back with changes (copying only)
     */
    public record Stats(boolean attached, long attaches, long hits, long faults, long staleReplies,
                        long staleInstalled, long invalidations, long fences, long refused, int entries,
                        long writtenBack) {
    }

    private enum Reattach implements ToImporter {
        INSTANCE
    }

    private record AckLater(long attachment, ToImporter.Invalidate invalidate) implements ToImporter {
    }

    private record Entry(int pfn, int generation, boolean writable) {
    }

    private record FileReady(MemFile file, ToImporter.Attached attached) implements ToImporter {
    }

    /** What copying needs: this node's host (for the local file) and memory, and how many pages a miss fetches. */
    public record Copying(ActorRef<HostCommand> host, PhysicalMemory memory, int blockPages) {
        public Copying {
            if (blockPages < 1) {
                throw new IllegalArgumentException("blockPages = " + blockPages + ": at least one page");
            }
        }
    }

    private static final Duration ATTACH_RETRY = Duration.ofSeconds(5);

    private final ActorRef<ToExporter> exporter;
    private final long segment;
    private final Duration ackDelay;
    private final int slowEvery;
    private final Duration backoff;
    private final Variant variant;
    private final Map<Long, Entry> table = new HashMap<>();
    /** Accesses waiting for a fault on their page. */
    private final Map<Long, List<Access>> waiting = new HashMap<>();
    /** Copying only: pages a FetchRange in flight will bring. */
    private final Set<Long> fetching = new HashSet<>();
    private final Copying copying;
    private LocalCopies copies;
    private boolean creatingFile;
    private long attachment = -1;
    private ActorRef<ToProxy> proxy;
    private long start;
    private long length;
    private long sequence;
    private long attaches;
    private long hits;
    private long faults;
    private long staleReplies;
    private long staleInstalled;
    private long invalidations;
    private long fences;
    private long refused;
    private int failedAttempts;
    /** Why the segment can no longer be attached, or null. */
    private String gone;

    /**
     * @param ackDelay how long this importer sleeps before acknowledging an invalidation (its translations stay
     *                 until then); zero acks at once. A test and scenario knob for a slow or stuck remote node.
     * @param backoff  first re-attach delay after a fence or refusal, doubled each time up to 2 s
     */
    public static Behavior<ToImporter> create(ActorRef<ToExporter> exporter, long segment, Duration ackDelay,
                                              Duration backoff, Variant variant) {
        return create(exporter, segment, ackDelay, 1, backoff, variant);
    }

    /** As above, but only every {@code slowEvery}-th invalidation waits {@code ackDelay}; the others ack at once. */
    public static Behavior<ToImporter> create(ActorRef<ToExporter> exporter, long segment, Duration ackDelay,
                                              int slowEvery, Duration backoff, Variant variant) {
        if (slowEvery < 1) {
            throw new IllegalArgumentException("slowEvery = " + slowEvery + ": must be at least 1");
        }
        return Behaviors.setup(ctx -> new Importer(ctx, exporter, segment, ackDelay, slowEvery, backoff, variant,
                null));
    }

    /** An importer that maps the segment by ranges into local copies (see the class comment). */
    public static Behavior<ToImporter> copying(ActorRef<ToExporter> exporter, long segment, Copying copying,
                                               Duration ackDelay, int slowEvery, Duration backoff,
                                               Variant variant) {
        if (slowEvery < 1) {
            throw new IllegalArgumentException("slowEvery = " + slowEvery + ": must be at least 1");
        }
        return Behaviors.setup(ctx -> new Importer(ctx, exporter, segment, ackDelay, slowEvery, backoff, variant,
                copying));
    }

    private Importer(ActorContext<ToImporter> context, ActorRef<ToExporter> exporter, long segment,
                     Duration ackDelay, int slowEvery, Duration backoff, Variant variant, Copying copying) {
        super(context);
        this.copying = copying;
        this.exporter = exporter;
        this.segment = segment;
        this.ackDelay = ackDelay;
        this.slowEvery = slowEvery;
        this.backoff = backoff;
        this.variant = variant;
        attach();
    }

    private void attach() {
        exporter.tell(new ToExporter.Attach(segment, getContext().getSelf()));
        // The exporter's node may be gone, and then nobody answers: ask again later if still detached.
        getContext().scheduleOnce(ATTACH_RETRY, getContext().getSelf(), Reattach.INSTANCE);
    }

    @Override
    public Receive<ToImporter> createReceive() {
        return newReceiveBuilder()
                .onMessage(ToImporter.Attached.class, this::onAttached)
                .onMessage(ToImporter.AttachRefused.class, this::onRefused)
                .onMessage(Access.class, this::onAccess)
                .onMessage(FileReady.class, this::onFileReady)
                .onMessage(ToImporter.FaultGranted.class, this::onGranted)
                .onMessage(ToImporter.PagesCopied.class, this::onCopied)
                .onMessage(ToImporter.FaultDenied.class, this::onDenied)
                .onMessage(ToImporter.Invalidate.class, this::onInvalidate)
                .onMessage(AckLater.class, a -> {
                    acknowledge(a.attachment(), a.invalidate());
                    return this;
                })
                .onMessage(ToImporter.Fenced.class, f -> {
                    if (f.attachment() == attachment) {
                        getContext().getLog().debug("segment {} attachment {} fenced: {}", segment, attachment,
                                f.reason());
                        detached();
                    }
                    return this;
                })
                .onMessageEquals(Reattach.INSTANCE, () -> {
                    if (attachment < 0 && gone == null && selfUp()) {
                        attach();
                    }
                    return this;
                })
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(attachment >= 0, attaches, hits, faults, staleReplies,
                            staleInstalled, invalidations, fences, refused,
                            copies != null ? copies.size() : table.size(), copies != null ? copies.written() : 0));
                    return this;
                })
                .onMessageEquals(Detach.INSTANCE, this::onDetach)
                .onSignal(Terminated.class, t -> {
                    // The exporter's end is gone (its node left, or it fenced us and stopped): nothing we hold is
                    // usable; the exporter has already given up on us.
                    if (proxy != null && t.getRef().equals(proxy)) {
                        detached();
                    }
                    return this;
                })
                .build();
    }

    private Behavior<ToImporter> onAttached(ToImporter.Attached a) {
        if (attachment >= 0) {
            // A second answer for an attach we no longer need: let the exporter drop it.
            a.proxy().tell(new ToProxy.Detach(a.attachment()));
            return this;
        }
        if (copying != null && copies == null) {
            // The copies need a local file of the segment's size first; the attachment waits for it.
            if (!creatingFile) {
                creatingFile = true;
                getContext().ask(HostCommand.FileCreated.class, copying.host(), Duration.ofSeconds(30),
                        replyTo -> new HostCommand.CreateFile("import-" + segment, a.length(), replyTo),
                        (created, failure) -> new FileReady(created == null ? null : created.file(), a));
            } else {
                a.proxy().tell(new ToProxy.Detach(a.attachment()));
            }
            return this;
        }
        attachment = a.attachment();
        proxy = a.proxy();
        start = a.start();
        length = a.length();
        attaches++;
        failedAttempts = 0;
        getContext().watch(proxy);
        return this;
    }

    private Behavior<ToImporter> onFileReady(FileReady f) {
        creatingFile = false;
        if (f.file() == null) {
            gone = "no local file for the copies";
            f.attached().proxy().tell(new ToProxy.Detach(f.attached().attachment()));
            return this;
        }
        copies = new LocalCopies(f.file(), copying.memory(), AgentIds.next(), f.attached().start());
        copying.memory().events().agentNamed(copiesAgent(), "copies of segment " + segment + " on "
                + getContext().getSystem().address());
        return onAttached(f.attached());
    }

    private long copiesAgent() {
        return copies.agent();
    }

    /** The segment does not exist (or no longer: its process exited): final, as a failed xpmem_get. */
    private Behavior<ToImporter> onRefused(ToImporter.AttachRefused r) {
        getContext().getLog().info("attach of segment {} refused: {}", segment, r.reason());
        gone = r.reason();
        return this;
    }

    // ---- accesses and faults -------------------------------------------------------------------------------------

    private Behavior<ToImporter> onAccess(Access a) {
        if (attachment < 0) {
            refuse(a, "segment " + segment + (gone != null ? " is gone: " + gone : " is not attached"));
            return this;
        }
        if (a.offset() < 0 || a.offset() >= length) {
            refuse(a, "offset " + a.offset() + " is outside segment " + segment + " (" + length + " bytes)");
            return this;
        }
        long va = start + a.offset();
        long page = va & ~(PhysicalMemory.PAGE_SIZE - 1);
        if (copies != null) {
            return onCopyAccess(a, va, page);
        }
        Entry e = table.get(page);
        if (e != null && (!a.write() || e.writable())) {
            hits++;
            proxy.tell(new ToProxy.Access(attachment, va, a.offset(), e.pfn(), e.generation(), a.write(), a.value(),
                    a.replyTo()));
            return this;
        }
        List<Access> queue = waiting.get(page);
        if (queue == null) {
            queue = new ArrayList<>(2);
            waiting.put(page, queue);
            faults++;
            // mmu_interval_read_begin: the sequence goes with the request and comes back with the answer.
            proxy.tell(new ToProxy.Fault(attachment, page, a.write(), sequence));
        }
        queue.add(a);
        return this;
    }

    private Behavior<ToImporter> onGranted(ToImporter.FaultGranted g) {
        if (g.attachment() != attachment) {
            return this;
        }
        boolean stale = g.sequence() != sequence;
        if (stale && variant != Variant.STALE_INFLIGHT_FAULT) {
            // An invalidation reached us after the exporter answered: the frame may be gone. Ask again.
            staleReplies++;
            boolean write = anyWrite(waiting.get(g.page()));
            proxy.tell(new ToProxy.Fault(attachment, g.page(), write, sequence));
            return this;
        }
        if (stale) {
            staleInstalled++; // broken on purpose: the race catalogue's STALE_INFLIGHT_FAULT
        }
        table.put(g.page(), new Entry(g.pfn(), g.generation(), g.writable()));
        List<Access> queue = waiting.remove(g.page());
        if (queue != null) {
            for (Access a : queue) {
                onAccess(a);
            }
        }
        return this;
    }

    // ---- copying: accesses, range faults -------------------------------------------------------------------------

    private Behavior<ToImporter> onCopyAccess(Access a, long va, long page) {
        if (copies.has(page, a.write())) {
            hits++;
            int word = (int) ((va & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3);
            a.replyTo().tell(AccessResult.ok(a.offset(), copies.access(page, word, a.write(), a.value())));
            return this;
        }
        List<Access> queue = waiting.computeIfAbsent(page, k -> new ArrayList<>(2));
        queue.add(a);
        if (!fetching.contains(page)) {
            fetch(page, a.write());
        }
        return this;
    }

    /**
     * Fetches the run of pages around {@code page} that are neither copied nor being fetched, within its aligned
     * block and the segment; a write to a read-only copy fetches that page alone (the read-only copy wrote nothing).
     */
    private void fetch(long page, boolean write) {
        long pageSize = PhysicalMemory.PAGE_SIZE;
        long first = page;
        long last = page;
        if (!copies.has(page, false)) {
            long blockBytes = copying.blockPages() * pageSize;
            long blockStart = start + ((page - start) / blockBytes) * blockBytes;
            long blockEnd = Math.min(blockStart + blockBytes, start + length);
            while (first - pageSize >= blockStart && free(first - pageSize)) {
                first -= pageSize;
            }
            while (last + pageSize < blockEnd && free(last + pageSize)) {
                last += pageSize;
            }
        }
        int pages = (int) ((last - first) / pageSize) + 1;
        for (long p = first; p <= last; p += pageSize) {
            fetching.add(p);
        }
        faults++;
        // mmu_interval_read_begin for a range: the sequence goes with the request and comes back with the answer.
        proxy.tell(new ToProxy.FetchRange(attachment, first, pages, write, sequence));
    }

    private boolean free(long page) {
        return !copies.has(page, false) && !fetching.contains(page);
    }

    private Behavior<ToImporter> onCopied(ToImporter.PagesCopied c) {
        if (c.attachment() != attachment || copies == null) {
            return this;
        }
        long pageSize = PhysicalMemory.PAGE_SIZE;
        for (long p = c.firstPage(); p < c.firstPage() + c.pages() * pageSize; p += pageSize) {
            fetching.remove(p);
        }
        boolean stale = c.sequence() != sequence;
        if (stale && variant != Variant.STALE_INFLIGHT_FAULT) {
            staleReplies++; // an invalidation overtook the copies: they may be of frames gone since
        } else {
            if (stale) {
                staleInstalled++;
            }
            for (PageCopy copy : c.copies()) {
                // A copy made meanwhile (writable, maybe written) stays; a read-only one may be upgraded.
                boolean keep = copies.has(copy.page(), copy.writable());
                if (!keep && !copies.install(copy)) {
                    refuseWaiting(copy.page(), "out of memory on " + getContext().getSystem().address());
                }
            }
            for (Long p : c.denied()) {
                refuseWaiting(p, c.deniedReason());
            }
        }
        // Everything waiting in the range runs again: hits now, or a fresh fetch (stale answers, upgrades).
        for (long p = c.firstPage(); p < c.firstPage() + c.pages() * pageSize; p += pageSize) {
            List<Access> queue = waiting.remove(p);
            if (queue != null) {
                for (Access a : queue) {
                    onAccess(a);
                }
            }
        }
        return this;
    }

    private void refuseWaiting(long page, String why) {
        List<Access> queue = waiting.remove(page);
        if (queue != null) {
            for (Access a : queue) {
                refuse(a, why);
            }
        }
    }

    private static boolean anyWrite(List<Access> accesses) {
        if (accesses != null) {
            for (Access a : accesses) {
                if (a.write()) {
                    return true;
                }
            }
        }
        return false;
    }

    private Behavior<ToImporter> onDenied(ToImporter.FaultDenied d) {
        if (d.attachment() != attachment) {
            return this;
        }
        List<Access> queue = waiting.remove(d.page());
        if (queue != null) {
            for (Access a : queue) {
                refuse(a, d.reason());
            }
        }
        return this;
    }

    private void refuse(Access a, String why) {
        refused++;
        a.replyTo().tell(AccessResult.refused(a.offset(), why));
    }

    // ---- invalidation --------------------------------------------------------------------------------------------

    private Behavior<ToImporter> onInvalidate(ToImporter.Invalidate inv) {
        if (inv.attachment() != attachment) {
            return this; // for an attachment already fenced: the exporter no longer waits for it
        }
        invalidations++;
        sequence++; // every fault answer already on its way is now stale
        if (ackDelay.isZero() || invalidations % slowEvery != 0) {
            acknowledge(attachment, inv);
        } else {
            // Sleeping: the translations stay usable (the exporter holds the frames) until we ack.
            getContext().scheduleOnce(ackDelay, getContext().getSelf(), new AckLater(attachment, inv));
        }
        return this;
    }

    private void acknowledge(long forAttachment, ToImporter.Invalidate inv) {
        if (forAttachment != attachment) {
            return;
        }
        if (copies != null) {
            // zap, then write back what the zapped copies wrote, then ack: the data is at the exporter first.
            List<PageWrite> written = new ArrayList<>();
            copies.drop(inv.spans(), written);
            if (!written.isEmpty()) {
                proxy.tell(new ToProxy.WriteBack(attachment, written));
            }
            proxy.tell(new ToProxy.InvalidateAck(attachment, inv.invalidation()));
            return;
        }
        Iterator<Long> it = table.keySet().iterator();
        while (it.hasNext()) {
            if (Span.anyContains(inv.spans(), it.next())) {
                it.remove();
            }
        }
        proxy.tell(new ToProxy.InvalidateAck(attachment, inv.invalidation()));
    }

    // ---- fencing and detach --------------------------------------------------------------------------------------

    private void detached() {
        fences++;
        table.clear();
        fetching.clear();
        if (copies != null) {
            copies.dropAll(null); // the exporter gave up on us: what the copies wrote since is lost with them
        }
        sequence++;
        for (List<Access> queue : waiting.values()) {
            for (Access a : queue) {
                refuse(a, "segment " + segment + " attachment " + attachment + " was fenced");
            }
        }
        waiting.clear();
        if (proxy != null) {
            getContext().unwatch(proxy);
        }
        attachment = -1;
        proxy = null;
        scheduleReattach();
    }

    /**
     * A node that is leaving sees every other node as gone and would re-attach to them on its way out: only a
     * member that is Up attaches again.
     */
    private boolean selfUp() {
        return akka.cluster.typed.Cluster.get(getContext().getSystem()).selfMember().status()
                == akka.cluster.MemberStatus.up();
    }

    private void scheduleReattach() {
        failedAttempts++;
        long ms = Math.min(2_000, backoff.toMillis() << Math.min(10, failedAttempts - 1));
        getContext().scheduleOnce(Duration.ofMillis(Math.max(1, ms)), getContext().getSelf(), Reattach.INSTANCE);
    }

    private Behavior<ToImporter> onDetach() {
        if (copies != null) {
            List<PageWrite> written = new ArrayList<>();
            copies.dropAll(proxy != null ? written : null);
            if (!written.isEmpty()) {
                proxy.tell(new ToProxy.WriteBack(attachment, written));
            }
            copying.host().tell(new HostCommand.DeleteFile(copies.file(), getContext().getSystem().ignoreRef()));
        }
        if (proxy != null) {
            proxy.tell(new ToProxy.Detach(attachment));
        }
        return Behaviors.stopped();
    }
}
