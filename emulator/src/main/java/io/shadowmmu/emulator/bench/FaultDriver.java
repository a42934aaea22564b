package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.mm.MmActor;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmIds;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.vma.Protection;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A secondary MMU's fault round trip, one at a time: sample the invalidate sequence, ask the mm for a page it never
 * touched ({@code get_user_pages} with write: a real zero-fill fault that allocates a frame), re-check the sequence
 * and install the grant in its table. When the region is all faulted in, it discards it (DONTNEED, which this
 * subscriber acknowledges inside its handler) and starts over, so every fault is a fresh page.
 */
final class FaultDriver extends AbstractBehavior<Object> implements IntervalNotifier.Handler {

    private enum Phase { MAP, FAULT, ZAP, EXIT }

    private final int pages;
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final CompletableFuture<Void> stopped;
    private final ActorRef<MmCommand> mm;
    /**
     * Its own ref, narrowed to each protocol it takes part in: the mm's grants, replies, notifications and
     * registration come straight to this actor, with no message adapter wrapping each one (issue 16: the grant is
     * on the measured path). Every mm reply (mmap, DONTNEED, exit) comes to the same ref, so the phase says which
     * it is.
     */
    private final ActorRef<PageReply> pageReplies;
    private final ActorRef<MmResult> mmReplies;
    private Phase phase = Phase.MAP;
    /** Installed translations: page index -> pfn, or -1. */
    private final int[] table;
    private long base;
    private int next;
    private final IntervalNotifier<Void> notifier = new IntervalNotifier<>(0, null);
    private long sampled;
    private long retries;
    /** Why a notification ended the run, or null. */
    private String failure;

    static Load start(BenchHost bench, int pages) {
        LongAdder completed = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        bench.spawn(Behaviors.<Object>setup(ctx -> new FaultDriver(ctx, bench, pages, completed, stop, stopped)),
                "fault-driver");
        return new ActorLoad(completed, stop, stopped);
    }

    private FaultDriver(ActorContext<Object> context, BenchHost bench, int pages, LongAdder completed,
                        AtomicBoolean stop, CompletableFuture<Void> stopped) {
        super(context);
        this.pages = pages;
        this.completed = completed;
        this.stop = stop;
        this.stopped = stopped;
        this.table = new int[pages];
        Arrays.fill(table, -1);
        this.mm = context.spawn(MmActor.create(bench.host(), bench.hostActor(), MmIds.next(), "fault-bench"), "mm");
        this.pageReplies = context.getSelf().narrow();
        this.mmReplies = context.getSelf().narrow();
        mm.tell(MmCommand.Mmap.anonymous(pages * PageTable.PAGE_SIZE, Protection.READ_WRITE, mmReplies));
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(PageReply.class, this::onPaged)
                .onMessage(MmuNotification.class, this::onNotified)
                .onMessage(MmResult.class, this::onReplied)
                .onMessage(MmCommand.Registered.class, r -> {
                    notifier.registered(r);
                    phase = Phase.FAULT;
                    return faultNext();
                })
                .build();
    }

    private Behavior<Object> onReplied(MmResult r) {
        if (!r.ok()) {
            return fail(phase + " failed: " + r);
        }
        switch (phase) {
            case MAP:
                return onMapped(((MmResult.Done) r).value());
            case ZAP:
                next = 0;
                phase = Phase.FAULT;
                return faultNext();
            case EXIT:
                stopped.complete(null);
                return Behaviors.stopped();
            default:
                return fail("unexpected reply " + r);
        }
    }

    private Behavior<Object> onMapped(long start) {
        base = start;
        mm.tell(new MmCommand.Register(getContext().getSelf().narrow(), Interest.WHOLE_MM, 0, "fault-bench", null,
                getContext().getSelf().narrow()));
        return this;
    }

    private Behavior<Object> faultNext() {
        if (stop.get()) {
            phase = Phase.EXIT;
            mm.tell(new MmCommand.Exit(mmReplies));
            return this;
        }
        if (next == pages) {
            phase = Phase.ZAP;
            mm.tell(new MmCommand.MadviseDontneed(base, pages * PageTable.PAGE_SIZE, mmReplies));
            return this;
        }
        sampled = notifier.readBegin(); // before asking the host
        mm.tell(new MmCommand.GetUserPage(base + next * PageTable.PAGE_SIZE, true, pageReplies));
        return this;
    }

    private Behavior<Object> onPaged(PageReply p) {
        if (!(p instanceof PageReply.Granted)) {
            return fail("fault denied: " + p);
        }
        if (notifier.readRetry(sampled)) {
            retries++; // an invalidation ran meanwhile; fault again
        } else {
            table[next++] = ((PageReply.Granted) p).pfn();
            completed.increment();
        }
        return faultNext();
    }

    private Behavior<Object> onNotified(MmuNotification n) {
        notifier.dispatch(n, this);
        return failure != null ? fail(failure) : this;
    }

    @Override
    public void invalidateStart(MmuNotification.InvalidateStart s) {
        for (Range r : s.ranges()) {
            for (long va = Math.max(r.start(), base); va < r.end() && va < base + pages * PageTable.PAGE_SIZE;
                 va += PageTable.PAGE_SIZE) {
                table[(int) ((va - base) / PageTable.PAGE_SIZE)] = -1;
            }
        }
        s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
    }

    @Override
    public void release(MmuNotification.Release r) {
        Arrays.fill(table, -1);
        r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
    }

    @Override
    public boolean young(Range range, boolean clear) {
        return false; // reclaim is off in the bench: nobody ages these pages
    }

    @Override
    public void fenced(MmuNotification.Fenced f) {
        failure = "fenced: " + f.reason();
    }

    private Behavior<Object> fail(String why) {
        stopped.completeExceptionally(new IllegalStateException("fault round trip: " + why));
        return Behaviors.stopped();
    }
}
