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
 * once every subscriber acknowledged) and write each again (refaults). A thread of the process, in actor form.
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
    /** -1 while the DONTNEED is in flight, else the next page to write. */
    private int page = -1;

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
        discard();
    }

    @Override
    public Receive<MmResult> createReceive() {
        return newReceiveBuilder().onMessage(MmResult.class, this::onResult).build();
    }

    private void discard() {
        page = -1;
        mm.tell(new MmCommand.MadviseDontneed(start, pages * PageTable.PAGE_SIZE, getContext().getSelf()));
    }

    private Behavior<MmResult> onResult(MmResult r) {
        if (!r.ok()) {
            throw new IllegalStateException("delivery worker: " + r);
        }
        page++;
        if (page < pages) {
            mm.tell(new MmCommand.Access(start + page * PageTable.PAGE_SIZE, true, page, getContext().getSelf()));
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
