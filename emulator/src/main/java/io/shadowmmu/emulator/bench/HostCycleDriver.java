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
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.vma.Protection;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A host process's own memory cycle with nobody subscribed: mmap a few pages, write each (a zero-fill fault), munmap
 * them; one cycle at a time. Run against a normal mm (the notifier is there, with 0 subscribers) and against an mm
 * whose notifier is bypassed ({@link MmActor#createWithoutNotifier}), the difference is what the notifier costs
 * before anybody starts a VM.
 */
final class HostCycleDriver extends AbstractBehavior<MmResult> {

    private enum Step { MAP, WRITE, UNMAP, EXIT }

    private final int pages;
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final CompletableFuture<Void> stopped;
    private final ActorRef<MmCommand> mm;
    private Step step = Step.MAP;
    private long base;
    private int page;

    /** @param bypassed drive an mm with the notifier bypassed instead of one with 0 subscribers */
    static Load start(BenchHost bench, int pages, boolean bypassed) {
        LongAdder completed = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Void> stopped = new CompletableFuture<>();
        bench.spawn(Behaviors.<MmResult>setup(ctx -> new HostCycleDriver(ctx, bench, pages, bypassed, completed,
                stop, stopped)), bypassed ? "cycle-bypassed" : "cycle-0-subscribers");
        return new ActorLoad(completed, stop, stopped);
    }

    private HostCycleDriver(ActorContext<MmResult> context, BenchHost bench, int pages, boolean bypassed,
                            LongAdder completed, AtomicBoolean stop, CompletableFuture<Void> stopped) {
        super(context);
        this.pages = pages;
        this.completed = completed;
        this.stop = stop;
        this.stopped = stopped;
        this.mm = context.spawn(bypassed
                ? MmActor.createWithoutNotifier(bench.host(), bench.hostActor(), MmIds.next(), "cycle-bypassed")
                : MmActor.create(bench.host(), bench.hostActor(), MmIds.next(), "cycle"), "mm");
        map();
    }

    @Override
    public Receive<MmResult> createReceive() {
        return newReceiveBuilder().onMessage(MmResult.class, this::onResult).build();
    }

    private void map() {
        step = Step.MAP;
        mm.tell(MmCommand.Mmap.anonymous(pages * PageTable.PAGE_SIZE, Protection.READ_WRITE, getContext().getSelf()));
    }

    private Behavior<MmResult> onResult(MmResult r) {
        if (!r.ok()) {
            stopped.completeExceptionally(new IllegalStateException("host cycle: " + step + " failed: " + r));
            return Behaviors.stopped();
        }
        switch (step) {
            case MAP:
                base = ((MmResult.Done) r).value();
                page = 0;
                step = Step.WRITE;
                write();
                break;
            case WRITE:
                if (++page < pages) {
                    write();
                } else {
                    step = Step.UNMAP;
                    mm.tell(new MmCommand.Munmap(base, pages * PageTable.PAGE_SIZE, getContext().getSelf()));
                }
                break;
            case UNMAP:
                completed.increment();
                if (stop.get()) {
                    step = Step.EXIT;
                    mm.tell(new MmCommand.Exit(getContext().getSelf()));
                } else {
                    map();
                }
                break;
            default:
                stopped.complete(null);
                return Behaviors.stopped();
        }
        return this;
    }

    private void write() {
        mm.tell(new MmCommand.Access(base + page * PageTable.PAGE_SIZE, true, page, getContext().getSelf()));
    }
}
