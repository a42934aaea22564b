package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.ExtensibleBehavior;
import akka.actor.typed.Signal;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.pagetable.PageTable;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * One of the delivery comparison's operations in a loop, as an actor: discard its own few pages (DONTNEED, replied
 * once every subscriber acknowledged) and write each again (refaults). A thread of the process, in actor form. The
 * writes go in one {@link MmCommand.Accesses} (one message and one reply for all of them, each still a fault of its
 * own); the synchronous baseline makes one call per write, each under the mm's lock. It takes its one kind of
 * message in one method, without Akka's javadsl receive (which allocates per message), like the mm.
 */
final class DeliveryWorker extends ExtensibleBehavior<MmResult> {

    /** Sent to the coordinator when the worker stopped. */
    interface Done {
    }

    private final ActorRef<MmCommand> mm;
    private final ActorRef<MmResult> self;
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
        return Behaviors.setup(ctx -> new DeliveryWorker(ctx.getSelf(), mm, start, pages, completed, stop, done,
                doneMessage));
    }

    private DeliveryWorker(ActorRef<MmResult> self, ActorRef<MmCommand> mm, long start, int pages,
                           LongAdder completed, AtomicBoolean stop, ActorRef<Done> done, Done doneMessage) {
        this.self = self;
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
    public Behavior<MmResult> receive(TypedActorContext<MmResult> ctx, MmResult r) {
        return onResult(r);
    }

    @Override
    public Behavior<MmResult> receiveSignal(TypedActorContext<MmResult> ctx, Signal signal) {
        return Behaviors.unhandled();
    }

    private void discard() {
        discarding = true;
        mm.tell(new MmCommand.MadviseDontneed(start, pages * PageTable.PAGE_SIZE, self));
    }

    private Behavior<MmResult> onResult(MmResult r) {
        if (!r.ok()) {
            throw new IllegalStateException("delivery worker: " + r);
        }
        if (discarding) {
            discarding = false;
            mm.tell(new MmCommand.Accesses(vas, true, values, self));
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
