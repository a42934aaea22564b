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
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
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
 * since the last invalidation are lost with the attachment (the exporter assumes its frames were written). The race
 * catalogue's {@code SKIP_WRITE_BACK} drops the copies an invalidation names unwritten too, and acks.
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

    /**
     * The local process {@code process} maps this importer's file at {@code hva} (see {@link ImportedRam}): the
     * exporter's invalidations unmap its pages there before the copies go. Local only.
     */
    public record MappedBy(ActorRef<MmCommand> process, long hva) implements ToImporter {
    }

    /**
     * A fault or access of the local process at {@code offset} into the imported window, held until the page's copy
     * is in the local page cache, then forwarded to the process. Local only.
     */
    public record LocalFault(long offset, MmCommand command) implements ToImporter {
    }

    /** The file that holds the copies (null until the first attach created it). */
    public record GetFile(ActorRef<FileAnswer> replyTo) implements ToImporter {
    }

    public record FileAnswer(MemFile file) {
    }

    private record LocallyUnmapped(long id) implements ToImporter {
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
    /** Local processes mapping the copies' file: each is unmapped before copies go. */
    private final List<ActorRef<MmCommand>> mappers = new ArrayList<>();
    /** Local faults waiting for a page's copy, by page offset into the segment. */
    private final Map<Long, List<MmCommand>> localWaiting = new HashMap<>();
    /** Unmaps of copied pages from the local processes in progress. */
    private final LocalUnmaps unmaps = new LocalUnmaps();
    private boolean writable;
    private boolean detaching;
    /** Copying only: whether the fetch in flight starting at a page asked for write access. */
    private final Map<Long, Boolean> lastFetchWrite = new HashMap<>();
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
                .onMessage(MappedBy.class, m -> {
                    mappers.add(m.process());
                    return this;
                })
                .onMessage(LocalFault.class, this::onLocalFault)
                .onMessage(LocallyUnmapped.class, this::onLocallyUnmapped)
                .onMessage(GetFile.class, g -> {
                    g.replyTo().tell(new FileAnswer(copies != null ? copies.file() : null));
                    return this;
                })
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
        writable = a.writable();
        attaches++;
        failedAttempts = 0;
        getContext().watch(proxy);
        if (copies != null) {
            retryLocal(List.of(new Span(start, start + length)));
        }
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
            a.replyTo().tell(AccessResult.ok(a.offset(), copies.access(page, word, a.write(), a.value()),
                    attachment));
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
        lastFetchWrite.put(first, write);
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
        boolean deniedWrite = deniedWrite(c);
        lastFetchWrite.remove(c.firstPage());
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
                failLocalWaiting(p, c.deniedReason(), deniedWrite);
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
        retryLocal(List.of(new Span(c.firstPage(), c.firstPage() + c.pages() * pageSize)));
        return this;
    }

    // ---- copying: the local processes mapping the copies (a VM's KVM behind them) --------------------------------

    private Behavior<ToImporter> onLocalFault(LocalFault f) {
        long page = start + f.offset();
        if (detaching) {
            failLocal(f.command(), "segment " + segment + " is being detached");
            return this;
        }
        if (copies == null || length == 0) {
            // Not attached yet: wait for the attach (retryLocal runs then).
            localWaiting.computeIfAbsent(f.offset(), k -> new ArrayList<>(1)).add(f.command());
            return this;
        }
        if (f.offset() < 0 || f.offset() >= length) {
            failLocal(f.command(), "offset " + f.offset() + " is outside segment " + segment);
            return this;
        }
        if (gone != null) {
            failLocal(f.command(), "segment " + segment + " is gone: " + gone);
            return this;
        }
        boolean write = isWrite(f.command());
        if (attachment >= 0 && copies.has(page, write) && !beingUnmapped(page)) {
            forwardLocal(page, f.command());
            return this;
        }
        localWaiting.computeIfAbsent(f.offset(), k -> new ArrayList<>(1)).add(f.command());
        if (attachment >= 0 && !beingUnmapped(page) && !fetching.contains(page)) {
            fetch(page, write);
        }
        return this;
    }

    private static boolean isWrite(MmCommand c) {
        return c instanceof MmCommand.GetUserPage ? ((MmCommand.GetUserPage) c).write()
                : c instanceof MmCommand.Access && ((MmCommand.Access) c).write();
    }

    /** The copy is in the page cache: the process faults it in from there (our messages to it stay in order). */
    private void forwardLocal(long page, MmCommand c) {
        for (ActorRef<MmCommand> m : mappers) {
            m.tell(c);
            return;
        }
        failLocal(c, "no local process maps segment " + segment);
    }

    private void failLocal(MmCommand c, String why) {
        if (c instanceof MmCommand.GetUserPage) {
            MmCommand.GetUserPage g = (MmCommand.GetUserPage) c;
            g.replyTo().tell(new PageReply.Denied(g.va(), Errno.SIGBUS,
                    why));
        } else if (c instanceof MmCommand.Access) {
            MmCommand.Access a = (MmCommand.Access) c;
            if (a.replyTo() != null) {
                a.replyTo().tell(new MmResult.Failed(Errno.SIGBUS,
                        why));
            }
        }
    }

    /** Runs the local faults waiting on pages in {@code spans} again. */
    private void retryLocal(List<Span> spans) {
        List<Long> offsets = new ArrayList<>();
        for (Long o : localWaiting.keySet()) {
            if (Span.anyContains(spans, start + o)) {
                offsets.add(o);
            }
        }
        for (Long o : offsets) {
            for (MmCommand c : localWaiting.remove(o)) {
                onLocalFault(new LocalFault(o, c));
            }
        }
    }

    private boolean beingUnmapped(long page) {
        return unmaps.covers(page);
    }

    /**
     * Unmaps the copies' pages in {@code spans} from every local process (their notifier zaps KVM's sptes and waits
     * for its TLB flushes), then runs {@code then}; at once when no process maps the file. Local faults on those
     * pages wait meanwhile.
     */
    private void unmapLocally(List<Span> spans, Runnable then) {
        if (mappers.isEmpty() || copies == null) {
            then.run();
            return;
        }
        long id = unmaps.start(spans, then, mappers.size());
        long from = Long.MAX_VALUE;
        for (Span s : spans) {
            from = Math.min(from, Math.max(0, (s.start() - start) / PhysicalMemory.PAGE_SIZE));
        }
        long fromIndex = from;
        for (ActorRef<MmCommand> m : mappers) {
            // Truncate's unmap from the first page named to the end of the file: more than asked, never less.
            getContext().ask(MmResult.class, m, Duration.ofSeconds(60),
                    replyTo -> new MmCommand.UnmapFileRange(copies.file(), fromIndex, replyTo),
                    (r, failure) -> new LocallyUnmapped(id));
        }
    }

    private Behavior<ToImporter> onLocallyUnmapped(LocallyUnmapped u) {
        List<Span> spans = unmaps.answered(u.id());
        if (spans != null) {
            retryLocal(spans);
        }
        return this;
    }

    /** Whether the refused fetch asked for write access (then reads waiting on its pages may still succeed). */
    private boolean deniedWrite(ToImporter.PagesCopied c) {
        return lastFetchWrite.getOrDefault(c.firstPage(), false);
    }

    /** The local faults on a refused page fail (only the writes, when it was a write fetch: reads ask again). */
    private void failLocalWaiting(long page, String why, boolean onlyWrites) {
        List<MmCommand> queue = localWaiting.get(page - start);
        if (queue == null) {
            return;
        }
        Iterator<MmCommand> it = queue.iterator();
        while (it.hasNext()) {
            MmCommand c = it.next();
            if (!onlyWrites || isWrite(c)) {
                it.remove();
                failLocal(c, why);
            }
        }
        if (queue.isEmpty()) {
            localWaiting.remove(page - start);
        }
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
            // Zap locally (KVM included), then write back what the copies wrote, then ack: the data is at the
            // exporter before its mm goes on.
            unmapLocally(inv.spans(), () -> {
                if (forAttachment != attachment) {
                    return; // fenced meanwhile: the fence dropped the copies
                }
                List<PageWrite> written = new ArrayList<>();
                // Broken on purpose under SKIP_WRITE_BACK: the dirty copies go unwritten, their writes are lost.
                copies.drop(inv.spans(), variant == Variant.SKIP_WRITE_BACK ? null : written);
                if (!written.isEmpty()) {
                    proxy.tell(new ToProxy.WriteBack(attachment, written));
                }
                proxy.tell(new ToProxy.InvalidateAck(attachment, inv.invalidation()));
            });
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
        lastFetchWrite.clear();
        boolean copying = copies != null;
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
        if (copying) {
            // The exporter gave up on us: what the copies wrote since is lost with them. The local processes let go
            // of them first; attaching again waits for that.
            unmapLocally(List.of(new Span(start, start + length)), () -> {
                copies.dropAll(null);
                scheduleReattach();
            });
        } else {
            scheduleReattach();
        }
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
        if (copies != null && !mappers.isEmpty()) {
            ActorRef<ToImporter> self = getContext().getSelf();
            List<MmCommand> waitingLocal = new ArrayList<>();
            localWaiting.values().forEach(waitingLocal::addAll);
            localWaiting.clear();
            for (MmCommand c : waitingLocal) {
                failLocal(c, "segment " + segment + " was detached");
            }
            detaching = true;
            // The local processes let go of the copies first; then the detach proper.
            unmapLocally(List.of(new Span(start, start + length)), () -> {
                mappers.clear();
                self.tell(Detach.INSTANCE);
            });
            return this;
        }
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
