package io.shadowmmu.emulator.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToImporter;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A remote user of one imported segment: keeps {@code window} accesses in flight at random offsets (seeded), a share
 * of them writes, until the scenario's operation budget is spent. A refused access (fenced, detached, a protection
 * fault) is counted and the driver goes on; an access that gets no answer (the exporter's node was lost with it in
 * flight: a fenced end answers late arrivals itself) times out and counts as lost.
 */
final class ImportDriver extends AbstractBehavior<ImportDriver.Command> {

    sealed interface Command {
    }

    private record Result(AccessResult result) implements Command {
    }

    /** Try again after a pause: the attachment is being re-established. */
    private enum Resume implements Command {
        INSTANCE
    }

    private static final Duration DETACHED_PAUSE = Duration.ofMillis(1);

    /** Totals of all drivers of a run. */
    static final class Totals {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        /** Refused because the attachment was fenced or not (yet) attached. */
        final AtomicLong refusedDetached = new AtomicLong();
        final AtomicLong lost = new AtomicLong();
        final AtomicLong writes = new AtomicLong();
    }

    private static final Duration ACCESS_TIMEOUT = Duration.ofSeconds(5);

    private final ActorRef<ToImporter> importer;
    private final long segmentBytes;
    private final double writeFraction;
    private final AtomicLong opsLeft;
    private final Totals totals;
    private final CountDownLatch finished;
    private final SplittableRandom random;
    private int inFlight;

    static Behavior<Command> create(ActorRef<ToImporter> importer, long segmentBytes, int window, double writeFraction,
                                    long seed, AtomicLong opsLeft, Totals totals, CountDownLatch finished) {
        return Behaviors.setup(ctx -> new ImportDriver(ctx, importer, segmentBytes, window, writeFraction, seed,
                opsLeft, totals, finished));
    }

    private ImportDriver(ActorContext<Command> context, ActorRef<ToImporter> importer, long segmentBytes, int window,
                         double writeFraction, long seed, AtomicLong opsLeft, Totals totals,
                         CountDownLatch finished) {
        super(context);
        this.importer = importer;
        this.segmentBytes = segmentBytes;
        this.writeFraction = writeFraction;
        this.opsLeft = opsLeft;
        this.totals = totals;
        this.finished = finished;
        this.random = new SplittableRandom(seed);
        for (int i = 0; i < window; i++) {
            next();
        }
        if (inFlight == 0) {
            finished.countDown();
        }
    }

    private void next() {
        if (opsLeft.getAndDecrement() <= 0) {
            return;
        }
        inFlight++;
        long offset = random.nextLong(segmentBytes / 8) * 8;
        boolean write = random.nextDouble() < writeFraction;
        long value = random.nextLong();
        getContext().ask(AccessResult.class, importer, ACCESS_TIMEOUT,
                replyTo -> new Importer.Access(offset, write, value, replyTo),
                (reply, failure) -> new Result(reply != null ? reply
                        : AccessResult.refused(offset, "no answer within " + ACCESS_TIMEOUT.toMillis() + " ms")));
        if (write) {
            totals.writes.incrementAndGet();
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Result.class, this::onResult)
                .onMessageEquals(Resume.INSTANCE, () -> {
                    inFlight--;
                    return proceed();
                })
                .build();
    }

    private Behavior<Command> onResult(Result r) {
        inFlight--;
        if (r.result().ok()) {
            totals.ok.incrementAndGet();
        } else if (r.result().refused() != null && r.result().refused().startsWith("no answer")) {
            totals.lost.incrementAndGet();
        } else {
            totals.refused.incrementAndGet();
            String why = String.valueOf(r.result().refused());
            if (why.contains("fenced") || why.contains("not attached")) {
                totals.refusedDetached.incrementAndGet();
                // Do not spin on a detached importer: it is re-attaching.
                inFlight++;
                getContext().scheduleOnce(DETACHED_PAUSE, getContext().getSelf(), Resume.INSTANCE);
                return this;
            }
        }
        return proceed();
    }

    private Behavior<Command> proceed() {
        next();
        if (inFlight == 0) {
            finished.countDown();
            return Behaviors.stopped();
        }
        return this;
    }
}
