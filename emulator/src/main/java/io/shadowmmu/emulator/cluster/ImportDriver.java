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
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The workload of one importer: a process of the importing node using a segment that another node exports, through
 * the importer. Keeps {@code window} accesses in flight at random offsets (seeded), a share of them writes, until the
 * scenario's operation budget is spent. It writes only the words its node owns ({@link WordOwners}) and re-reads
 * what it wrote about half of the time; every read of a word it wrote is checked against its golden copy
 * ({@link GoldenWords}) and a mismatch is reported to its node's oracle as I1. A refused access (fenced, detached, a
 * protection fault) is counted and the driver goes on; an access that gets no answer (the exporter's node was lost
 * with it in flight: a fenced end answers late arrivals itself) times out and counts as lost.
 */
final class ImportDriver extends AbstractBehavior<ImportDriver.Command> {

    sealed interface Command {
    }

    private record Result(AccessResult result, GoldenWords.Ticket ticket) implements Command {
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
        /** Reads compared with a golden copy (I1), and those that did not match. */
        final AtomicLong checkedReads = new AtomicLong();
        final AtomicLong staleReads = new AtomicLong();
    }

    /** Words recently written, re-read by about half of the reads (else few reads would find a known word). */
    private static final int RECENT = 32;

    private static final Duration ACCESS_TIMEOUT = Duration.ofSeconds(5);

    private final ActorRef<ToImporter> importer;
    private final long segmentBytes;
    private final double writeFraction;
    private final AtomicLong opsLeft;
    private final Totals totals;
    private final CountDownLatch finished;
    private final SplittableRandom random;
    private final WordOwners owners;
    private final GoldenWords golden;
    private final CoherenceEvents events;
    private final long agent;
    private final String name;
    private final long[] recent = new long[RECENT];
    private long recentWrites;
    private int inFlight;

    /** What the golden copy needs: the words owned, the segment's discards, where to report and under what name. */
    record Checking(WordOwners owners, Discards discards, CoherenceEvents events, String name) {
    }

    static Behavior<Command> create(ActorRef<ToImporter> importer, long segmentBytes, int window, double writeFraction,
                                    long seed, AtomicLong opsLeft, Totals totals, CountDownLatch finished,
                                    Checking checking) {
        return Behaviors.setup(ctx -> new ImportDriver(ctx, importer, segmentBytes, window, writeFraction, seed,
                opsLeft, totals, finished, checking));
    }

    private ImportDriver(ActorContext<Command> context, ActorRef<ToImporter> importer, long segmentBytes, int window,
                         double writeFraction, long seed, AtomicLong opsLeft, Totals totals,
                         CountDownLatch finished, Checking checking) {
        super(context);
        this.owners = checking.owners();
        this.golden = new GoldenWords(checking.discards());
        this.events = checking.events();
        this.name = checking.name();
        this.agent = AgentIds.next();
        events.agentNamed(agent, name);
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
        GoldenWords.Ticket ticket;
        if (write) {
            offset = owners.claim(offset);
            recent[(int) (recentWrites++ % RECENT)] = offset;
            ticket = golden.writeSent(offset, value);
        } else {
            if (recentWrites > 0 && random.nextBoolean()) {
                offset = recent[random.nextInt((int) Math.min(recentWrites, RECENT))];
            }
            ticket = golden.readSent(offset);
        }
        long at = offset;
        getContext().ask(AccessResult.class, importer, ACCESS_TIMEOUT,
                replyTo -> new Importer.Access(at, write, value, replyTo),
                (reply, failure) -> new Result(reply != null ? reply
                        : AccessResult.refused(at, "no answer within " + ACCESS_TIMEOUT.toMillis() + " ms"), ticket));
        if (write) {
            totals.writes.incrementAndGet();
        }
    }

    private void check(Result r) {
        GoldenWords.Ticket t = r.ticket();
        if (t.write()) {
            golden.writeAnswered(t, r.result());
            return;
        }
        GoldenWords.Verdict v = golden.readAnswered(t, r.result());
        if (v == GoldenWords.Verdict.UNCHECKED) {
            return;
        }
        totals.checkedReads.incrementAndGet();
        if (v == GoldenWords.Verdict.STALE) {
            totals.staleReads.incrementAndGet();
            events.violation(Invariant.I1, agent, name + " read offset 0x" + Long.toHexString(t.offset())
                    + " of its segment: expected " + t.expected() + " (its last write"
                    + (t.attachment() >= 0 ? ", through attachment " + t.attachment() : "") + "), found "
                    + r.result().value() + ": a write was lost");
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
        check(r);
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
