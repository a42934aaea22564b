package io.shadowmmu.emulator.strategies;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.emulator.churn.SecondaryMmu;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One strategy's run: a process with an atomic and a sleeping secondary MMU maps a region, writes every page, lets
 * both secondaries fault every page in, and unmaps it, for a number of rounds; the munmap's time is measured from
 * request to reply (which waits for every acknowledgement).
 */
final class StrategyRound extends AbstractBehavior<StrategyRound.Command> {

    interface Command {
    }

    private record Step(Object reply) implements Command {
    }

    /** What one strategy's run measured. */
    record Outcome(MmStats stats, List<SecondaryMmu.Stats> secondaries, Histogram munmapMicros,
                   HostCommand.AuditReport audit) {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final int pages;
    private final int rounds;
    private final CompletableFuture<Outcome> outcome;
    private final ActorRef<HostCommand> hostActor;
    private final Histogram munmapMicros = new Histogram(3_600_000_000L, 2);
    private final List<SecondaryMmu.Stats> secondaryStats = new ArrayList<>();
    private final List<ActorRef<SecondaryMmu.Command>> secondaries = new ArrayList<>();
    private final HostContext host;
    private ActorRef<MmCommand> mm;
    private long mmId;
    private long base;
    private int round;
    private int page;
    private long munmapStarted;
    private MmStats stats;
    private Phase phase = Phase.SPAWN;

    private enum Phase { SPAWN, MAP, WRITE, TOUCH, SETTLE, UNMAP, STATS, EXIT, SECONDARIES, AUDIT }

    static Behavior<Command> create(HostContext host, int pages, int rounds, CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> new StrategyRound(ctx, host, pages, rounds, outcome));
    }

    private StrategyRound(ActorContext<Command> context, HostContext host, int pages, int rounds,
                          CompletableFuture<Outcome> outcome) {
        super(context);
        this.host = host;
        this.pages = pages;
        this.rounds = rounds;
        this.outcome = outcome;
        this.hostActor = context.spawn(HostActor.create(host), "host");
        context.ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                r -> new HostCommand.SpawnProcess("strategies", r), (s, f) -> new Step(s));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Step.class, this::onStep)
                .onMessage(SecondaryStats.class, this::onSecondaryStats).build();
    }

    private record SecondaryStats(SecondaryMmu.Stats stats) implements Command {
    }

    private Behavior<Command> onStep(Step s) {
        switch (phase) {
            case SPAWN: {
                HostCommand.ProcessSpawned p = (HostCommand.ProcessSpawned) s.reply();
                mm = p.process();
                mmId = p.mm();
                ActorRef<SecondaryMmu.Stats> report = getContext().messageAdapter(SecondaryMmu.Stats.class,
                        SecondaryStats::new);
                secondaries.add(getContext().spawn(SecondaryMmu.create(mm, mmId, host.memory(), "atomic",
                        Duration.ZERO, report, host.settings().variant()), "atomic"));
                secondaries.add(getContext().spawn(SecondaryMmu.create(mm, mmId, host.memory(), "sleeping",
                        Duration.ofMillis(1), report, host.settings().variant()), "sleeping"));
                return map();
            }
            case MAP:
                base = ((MmResult.Done) s.reply()).value();
                page = 0;
                phase = Phase.WRITE;
                return writeNext();
            case WRITE:
                return writeNext();
            case SETTLE:
                return unmap();
            case UNMAP:
                munmapMicros.recordValue(Math.max(0, (System.nanoTime() - munmapStarted) / 1000));
                return ++round < rounds ? map() : askStats();
            case STATS:
                stats = (MmStats) s.reply();
                phase = Phase.EXIT;
                getContext().ask(MmResult.class, mm, TIMEOUT, MmCommand.Exit::new, (r, f) -> new Step(r));
                return this;
            case EXIT:
                phase = Phase.SECONDARIES;
                return auditWhenSecondariesReported();
            case AUDIT:
                outcome.complete(new Outcome(stats, secondaryStats, munmapMicros,
                        (HostCommand.AuditReport) s.reply()));
                return Behaviors.stopped();
            default:
                return this;
        }
    }

    private Behavior<Command> onSecondaryStats(SecondaryStats s) {
        secondaryStats.add(s.stats());
        return auditWhenSecondariesReported();
    }

    /** The secondaries report when the mm releases them, which may come before or after its exit reply. */
    private Behavior<Command> auditWhenSecondariesReported() {
        if (secondaryStats.size() == secondaries.size() && phase == Phase.SECONDARIES) {
            phase = Phase.AUDIT;
            getContext().ask(HostCommand.AuditReport.class, hostActor, TIMEOUT, HostCommand.Audit::new,
                    (r, f) -> new Step(r));
        }
        return this;
    }

    private Behavior<Command> map() {
        phase = Phase.MAP;
        getContext().ask(MmResult.class, mm, TIMEOUT,
                r -> MmCommand.Mmap.anonymous(pages * 4096L, io.shadowmmu.hostmm.vma.Protection.READ_WRITE, r),
                (r, f) -> new Step(r));
        return this;
    }

    private Behavior<Command> writeNext() {
        if (page == pages) {
            for (int p = 0; p < pages; p++) {
                for (ActorRef<SecondaryMmu.Command> sec : secondaries) {
                    sec.tell(new SecondaryMmu.Touch(base + p * 4096L));
                }
            }
            // Let the secondaries' faults land before the munmap: a round trip through the mm orders after them.
            phase = Phase.SETTLE;
            getContext().ask(MmStats.class, mm, TIMEOUT, MmCommand.GetStats::new, (r, f) -> new Step(r));
            return this;
        }
        long va = base + page++ * 4096L;
        getContext().ask(MmResult.class, mm, TIMEOUT, r -> new MmCommand.Access(va, true, va, r),
                (r, f) -> new Step(r));
        return this;
    }

    private Behavior<Command> unmap() {
        phase = Phase.UNMAP;
        munmapStarted = System.nanoTime();
        getContext().ask(MmResult.class, mm, TIMEOUT, r -> new MmCommand.Munmap(base, pages * 4096L, r),
                (r, f) -> new Step(r));
        return this;
    }

    private Behavior<Command> askStats() {
        phase = Phase.STATS;
        getContext().ask(MmStats.class, mm, TIMEOUT, MmCommand.GetStats::new, (r, f) -> new Step(r));
        return this;
    }
}
