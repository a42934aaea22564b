package org.example.mirror;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
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
import io.shadowmmu.scenario.SecondaryContext;
import io.shadowmmu.scenario.SecondaryDone;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A small secondary MMU of our own: a device that reads random words of one host process's memory through a table of
 * its own (page to frame), faulting pages in through {@code get_user_pages} and keeping the table coherent through
 * the process's MMU notifier. It reports every translation it makes and drops to the run's event sink, so the
 * coherence oracle can judge it.
 *
 * <p>The protocol, in the order it matters:
 * <ol>
 *   <li>register with the mm ({@code MmCommand.Register}); faults wait (parked) until registered;</li>
 *   <li>a fault samples the invalidate sequence, asks for the page ({@code MmCommand.GetUserPage}), and installs the
 *       answer only if no invalidation ended or ran over the page meanwhile ({@code readRetry}); else it asks again;</li>
 *   <li>on {@code InvalidateStart} it drops the pages of the ranges, then acks; on {@code InvalidateEnd} parked faults
 *       run again; on {@code Fenced} it drops everything and registers again; on {@code Release} it drops everything,
 *       acks and stops;</li>
 *   <li>reads happen inside the access grant ({@code enter()}/{@code exit()}): once the host revoked it, nothing is
 *       read.</li>
 * </ol>
 * {@link Flaw} breaks one rule on purpose, so a test can show the oracle catches it.
 */
public final class PageMirror extends AbstractBehavior<PageMirror.Command> implements IntervalNotifier.Handler {

    /** A deliberate bug, for the test that the oracle catches it. */
    public enum Flaw {
        /** Follows the protocol. */
        NONE,
        /** Acks an invalidation at once and drops the pages only at its end: the host frees frames still mapped. */
        ACK_BEFORE_DROP,
        /** Installs every fault answer without the sequence re-check. */
        NO_SEQUENCE_CHECK
    }

    public sealed interface Command {
    }

    private record Notified(MmuNotification notification) implements Command {
    }

    private record Registered(MmCommand.Registered registration) implements Command {
    }

    private record Paged(long page, long sampled, PageReply reply) implements Command {
    }

    private enum Step implements Command {
        INSTANCE
    }

    private enum Reregister implements Command {
        INSTANCE
    }

    private static final int BURST = 32;
    private static final Duration FAULT_TIMEOUT = Duration.ofSeconds(30);

    private final SecondaryContext ctx;
    private final long accessesWanted;
    private final Flaw flaw;
    private final PhysicalMemory memory;
    private final Random random;
    private final IntervalNotifier<Long> notifier = new IntervalNotifier<>(0, this::retryParked);
    /** page -> (pfn << 32 | generation) */
    private final Map<Long, Long> table = new HashMap<>();
    private final Set<Long> faulting = new HashSet<>();
    private final Set<Long> parked = new HashSet<>();
    /** ACK_BEFORE_DROP: ranges acked and not yet dropped, by batch. */
    private final Map<Long, List<Range>> owed = new HashMap<>();
    private long attempts;
    private long hits;
    private boolean reported;
    private boolean released;

    /**
     * @param accesses how many reads to attempt before reporting done (it keeps answering its mm afterwards)
     */
    public static Behavior<Command> create(SecondaryContext ctx, long accesses, Flaw flaw) {
        return Behaviors.setup(context -> new PageMirror(context, ctx, accesses, flaw));
    }

    private PageMirror(ActorContext<Command> context, SecondaryContext ctx, long accesses, Flaw flaw) {
        super(context);
        this.ctx = ctx;
        this.accessesWanted = accesses;
        this.flaw = flaw;
        this.memory = ctx.memory();
        this.random = new Random(ctx.seed());
        register();
        context.getSelf().tell(Step.INSTANCE);
    }

    private void register() {
        ctx.mm().tell(new MmCommand.Register(getContext().messageAdapter(MmuNotification.class, Notified::new),
                Interest.WHOLE_MM, ctx.agent(), ctx.name(), null,
                getContext().messageAdapter(MmCommand.Registered.class, Registered::new)));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Step.INSTANCE, this::onStep)
                .onMessage(Paged.class, this::onPaged)
                .onMessage(Registered.class, r -> {
                    notifier.registered(r.registration()); // runs the parked faults
                    return this;
                })
                .onMessage(Notified.class, n -> {
                    notifier.dispatch(n.notification(), this);
                    return released ? Behaviors.stopped() : this;
                })
                .onMessageEquals(Reregister.INSTANCE, () -> {
                    register();
                    return this;
                })
                .build();
    }

    // ---- the device's work ----------------------------------------------------------------------------------------

    private Behavior<Command> onStep() {
        Range region = ctx.region();
        long pages = region.pages();
        AccessGrant grant = notifier.grant();
        for (int i = 0; i < BURST && attempts < accessesWanted; i++) {
            attempts++;
            long va = region.start() + (long) (random.nextDouble() * pages) * PhysicalMemory.PAGE_SIZE
                    + 8L * random.nextInt(PhysicalMemory.WORDS_PER_PAGE);
            long page = va & ~(PhysicalMemory.PAGE_SIZE - 1);
            Long entry = table.get(page);
            if (entry == null) {
                fault(page);
            } else if (grant != null && grant.enter()) {
                try {
                    read(va, entry);
                } finally {
                    grant.exit();
                }
            }
        }
        if (attempts < accessesWanted) {
            // Let the faults answer before the next burst when most of the table is missing.
            if (faulting.size() > BURST / 2) {
                getContext().scheduleOnce(Duration.ofMillis(1), getContext().getSelf(), Step.INSTANCE);
            } else {
                getContext().getSelf().tell(Step.INSTANCE);
            }
        } else if (!reported) {
            reported = true;
            ctx.done().tell(SecondaryDone.ok(ctx.name(), hits));
        }
        return this;
    }

    private void read(long va, long entry) {
        int pfn = (int) (entry >>> 32);
        int generation = (int) entry;
        if (memory.checkMode() && memory.generation(pfn) != generation) {
            // What we can see ourselves: the frame was freed and reused under our translation.
            ctx.events().violation(Invariant.I3, ctx.agent(), ctx.name() + " read 0x" + Long.toHexString(va)
                    + " through frame " + pfn + " generation " + generation + ", now " + memory.generation(pfn));
        }
        memory.read(pfn, (int) ((va & (PhysicalMemory.PAGE_SIZE - 1)) >>> 3));
        hits++;
    }

    // ---- faults (mmu_interval_read_begin / read_retry) ------------------------------------------------------------

    private void fault(long page) {
        if (faulting.contains(page)) {
            return; // already asked
        }
        if (!notifier.registered() || notifier.invalidating(page)) {
            if (parked.add(page)) {
                notifier.park(page); // runs again once registered, or once that invalidation ended
            }
            return;
        }
        faulting.add(page);
        long sampled = notifier.readBegin();
        getContext().ask(PageReply.class, ctx.mm(), FAULT_TIMEOUT, r -> new MmCommand.GetUserPage(page, false, r),
                (reply, failure) -> new Paged(page, sampled, reply));
    }

    private void retryParked(long page) {
        parked.remove(page);
        fault(page);
    }

    private Behavior<Command> onPaged(Paged p) {
        faulting.remove(p.page());
        if (!(p.reply() instanceof PageReply.Granted) || !notifier.registered()) {
            return this; // denied (unmapped now), timed out, or we are between subscriptions
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        if (flaw != Flaw.NO_SEQUENCE_CHECK && notifier.readRetry(p.sampled(), p.page())) {
            fault(p.page()); // an invalidation ran or runs over it: the answer may name a revoked frame
            return this;
        }
        Long old = table.put(p.page(), ((long) g.pfn() << 32) | (g.generation() & 0xFFFF_FFFFL));
        if (old != null) {
            removed(p.page(), old);
        }
        ctx.events().translationInstalled(ctx.agent(), 0, ctx.mmId(), p.page(), g.pfn(), g.generation(), false);
        return this;
    }

    // ---- the notifier ---------------------------------------------------------------------------------------------

    @Override
    public void invalidateStart(MmuNotification.InvalidateStart start) {
        if (flaw == Flaw.ACK_BEFORE_DROP) {
            owed.put(start.batch(), start.ranges()); // broken: "done" now, the drop waits for the end
        } else {
            drop(start.ranges());
        }
        start.replyTo().tell(NotifierReply.Ack.clean(start.subscription(), start.batch()));
    }

    @Override
    public void invalidateEnd(MmuNotification.InvalidateEnd end) {
        List<Range> late = owed.remove(end.batch());
        if (late != null) {
            drop(late);
        }
    }

    @Override
    public void release(MmuNotification.Release release) {
        dropAll();
        release.replyTo().tell(NotifierReply.Ack.clean(release.subscription(), release.batch()));
        released = true;
    }

    @Override
    public boolean young(Range range, boolean clear) {
        for (Long page : table.keySet()) {
            if (range.contains(page)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void fenced(MmuNotification.Fenced fenced) {
        dropAll();
        if (fenced.subscription() < 0) {
            released = true; // the mm exited before we registered
            return;
        }
        getContext().scheduleOnce(Duration.ofMillis(20), getContext().getSelf(), Reregister.INSTANCE);
    }

    private void drop(List<Range> ranges) {
        for (Iterator<Map.Entry<Long, Long>> it = table.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Long> e = it.next();
            if (Range.anyContains(ranges, e.getKey())) {
                removed(e.getKey(), e.getValue());
                it.remove();
            }
        }
    }

    private void dropAll() {
        for (Map.Entry<Long, Long> e : table.entrySet()) {
            removed(e.getKey(), e.getValue());
        }
        table.clear();
        owed.clear();
    }

    private void removed(long page, long entry) {
        ctx.events().translationRemoved(ctx.agent(), 0, ctx.mmId(), page, (int) (entry >>> 32), (int) entry);
    }
}
