package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.pagetable.PageTable;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * One of the delivery comparison's operations in a loop, as an actor: discard its own few pages (DONTNEED, replied
 * once every subscriber acknowledged) and write each again (refaults). A thread of the process, in actor form. The
 * writes go in one {@link MmCommand.Accesses} (one message and one reply for all of them, each still a fault of its
 * own); the synchronous baseline makes one call per write, each under the mm's lock.
 */
final class DeliveryWorker extends AbstractBehavior<MmResult> {

    /** Sent to the coordinator when the worker stopped. */
    interface Done {
    }

    private final ActorRef<MmCommand> mm;
    private final long start;
    private final int pages;
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final ActorRef<Done> done;
    private final Done doneMessage;
    private final long[] vas;
    /** The value written to each page: its index. */
    private final long[] values;
    /** True while the DONTNEED is in flight, false while the writes are. */
    private boolean discarding;

    static Behavior<MmResult> create(ActorRef<MmCommand> mm, long start, int pages, LongAdder completed,
                                     AtomicBoolean stop, ActorRef<Done> done, Done doneMessage) {
        return Behaviors.setup(ctx -> new DeliveryWorker(ctx, mm, start, pages, completed, stop, done, doneMessage));
    }

    private DeliveryWorker(ActorContext<MmResult> context, ActorRef<MmCommand> mm, long start, int pages,
                           LongAdder completed, AtomicBoolean stop, ActorRef<Done> done, Done doneMessage) {
        super(context);
        this.mm = mm;
        this.start = start;
        this.pages = pages;
        this.completed = completed;
        this.stop = stop;
        this.done = done;
        this.doneMessage = doneMessage;
        this.vas = new long[pages];
        this.values = new long[pages];
        for (int i = 0; i < pages; i++) {
            vas[i] = start + i * PageTable.PAGE_SIZE;
            values[i] = i;
        }
        discard();
    }

    @Override
    public Receive<MmResult> createReceive() {
        return newReceiveBuilder().onMessage(MmResult.class, this::onResult).build();
    }

    private void discard() {
        discarding = true;
        mm.tell(new MmCommand.MadviseDontneed(start, pages * PageTable.PAGE_SIZE, getContext().getSelf()));
    }

    private Behavior<MmResult> onResult(MmResult r) {
        if (!r.ok()) {
            throw new IllegalStateException("delivery worker: " + r);
        }
        if (discarding) {
            discarding = false;
            mm.tell(new MmCommand.Accesses(vas, true, values, getContext().getSelf()));
            return this;
        }
        completed.increment();
        if (stop.get()) {
            done.tell(doneMessage);
            return Behaviors.stopped();
        }
        discard();
        return this;
    }
}
