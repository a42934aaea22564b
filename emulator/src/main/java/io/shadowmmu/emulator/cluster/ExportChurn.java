package io.shadowmmu.emulator.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Host churn under an exported segment: the exporting process drops pages (madvise DONTNEED), write-protects and
 * re-opens them (mprotect), and writes its own memory, one operation at a time, each system call returning only
 * after every importer dropped what it invalidated (or was fenced). It writes only the words of the exporting node
 * ({@link WordOwners}: the importers check theirs) and marks each discard in {@link Discards} while it runs.
 */
final class ExportChurn extends AbstractBehavior<ExportChurn.Command> {

    sealed interface Command {
    }

    enum Stop implements Command {
        INSTANCE
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private record Done(MmResult result) implements Command {
    }

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);

    private final ActorRef<MmCommand> mm;
    private final long start;
    private final int pages;
    private final Duration interval;
    private final AtomicLong operations;
    private final CountDownLatch stopped;
    private final SplittableRandom random;
    private final WordOwners owners;
    private final Discards discards;
    /** The discard in progress (first page, pages), or count 0. */
    private int discardFirst;
    private int discardCount;
    private boolean stopping;
    private boolean busy;

    static Behavior<Command> create(ActorRef<MmCommand> mm, long start, int pages, Duration interval, long seed,
                                    AtomicLong operations, CountDownLatch stopped, WordOwners owners,
                                    Discards discards) {
        return Behaviors.setup(ctx -> new ExportChurn(ctx, mm, start, pages, interval, seed, operations, stopped,
                owners, discards));
    }

    private ExportChurn(ActorContext<Command> context, ActorRef<MmCommand> mm, long start, int pages,
                        Duration interval, long seed, AtomicLong operations, CountDownLatch stopped,
                        WordOwners owners, Discards discards) {
        super(context);
        this.owners = owners;
        this.discards = discards;
        this.mm = mm;
        this.start = start;
        this.pages = pages;
        this.interval = interval;
        this.operations = operations;
        this.stopped = stopped;
        this.random = new SplittableRandom(seed);
        context.getSelf().tell(Tick.INSTANCE);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessage(Done.class, d -> {
                    busy = false;
                    if (discardCount > 0) {
                        discards.end(discardFirst, discardCount);
                        discardCount = 0;
                    }
                    operations.incrementAndGet();
                    return stopping ? finish() : schedule();
                })
                .onMessageEquals(Stop.INSTANCE, () -> {
                    stopping = true;
                    return busy ? this : finish();
                })
                .build();
    }

    private Behavior<Command> schedule() {
        if (interval.isZero()) {
            getContext().getSelf().tell(Tick.INSTANCE);
        } else {
            getContext().scheduleOnce(interval, getContext().getSelf(), Tick.INSTANCE);
        }
        return this;
    }

    private Behavior<Command> finish() {
        // Leave the segment fully writable for whoever attaches next.
        mm.tell(new MmCommand.Mprotect(start, pages * 4096L, Protection.READ_WRITE,
                getContext().getSystem().ignoreRef()));
        stopped.countDown();
        return Behaviors.stopped();
    }

    private Behavior<Command> onTick() {
        if (stopping || busy) {
            return this;
        }
        int first = random.nextInt(pages);
        int count = 1 + random.nextInt(Math.min(4, pages - first));
        long va = start + first * 4096L;
        long length = count * 4096L;
        int pick = random.nextInt(10);
        busy = true;
        if (pick < 4) {
            // Before the call: the importers' golden copies stop vouching for these pages from now on.
            discardFirst = first;
            discardCount = count;
            discards.begin(first, count);
        }
        getContext().ask(MmResult.class, mm, CALL_TIMEOUT, replyTo -> {
            if (pick < 4) {
                return new MmCommand.MadviseDontneed(va, length, replyTo);
            } else if (pick < 6) {
                // Write-protect then re-open: two PROTECTION invalidations, remote writers refault.
                return new MmCommand.Mprotect(va, length, random.nextBoolean() ? Protection.READ
                        : Protection.READ_WRITE, replyTo);
            }
            long offset = owners.claim(first * 4096L + 8L * random.nextInt(512));
            return new MmCommand.Access(start + offset, true, random.nextLong(), replyTo);
        }, (reply, failure) -> new Done(reply));
        return this;
    }
}
