package io.shadowmmu.emulator.churn;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.pressure.PressureCounters;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The guardian of a host-churn run: creates the host, its file and the first processes (each with an atomic and a
 * slow secondary MMU), adopts forked children, and once the operation budget is spent and every process exited,
 * deletes the file, audits the frames (I5) and completes the outcome.
 */
final class ChurnCoordinator extends AbstractBehavior<ChurnCoordinator.Command> {

    interface Command {
    }

    record Forked(ProcessDriver.Child child) implements Command {
    }

    record Exited(long mm, MmStats stats) implements Command {
    }

    private record Spawned(HostCommand.ProcessSpawned spawned) implements Command {
    }

    private record FileReady(MemFile file) implements Command {
    }

    private record Deleted(MmResult result) implements Command {
    }

    private record Audited(HostCommand.AuditReport report) implements Command {
    }

    private record Pressure(PressureCounters.Snapshot snapshot) implements Command {
    }

    private record SecondaryStats(SecondaryMmu.Stats stats) implements Command {
    }

    /** Everything the scenario reports, handed over when the run is done. */
    record Outcome(List<MmStats> processes, List<SecondaryMmu.Stats> secondaries, HostCommand.AuditReport audit,
                   PressureCounters.Snapshot pressure, long framesTotal, long framesFree, long peakUsed) {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final HostContext host;
    private final ChurnSettings settings;
    private final CompletableFuture<Outcome> outcome;
    private final ActorRef<HostCommand> hostActor;
    private final AtomicLong opsLeft;
    private final AtomicInteger live;
    private final SplittableRandom random;
    private final List<MmStats> exited = new ArrayList<>();
    private final List<SecondaryMmu.Stats> secondaryStats = new ArrayList<>();
    private final AtomicLong peakUsed;
    private final ActorRef<SecondaryMmu.Stats> statsAdapter;
    private MemFile file;
    private int running;
    private int secondariesAlive;
    private HostCommand.AuditReport audit;

    static Behavior<Command> create(HostContext host, ChurnSettings settings, AtomicLong opsLeft, AtomicLong peakUsed,
                                    CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> new ChurnCoordinator(ctx, host, settings, opsLeft, peakUsed, outcome));
    }

    private ChurnCoordinator(ActorContext<Command> context, HostContext host, ChurnSettings settings,
                             AtomicLong opsLeft, AtomicLong peakUsed, CompletableFuture<Outcome> outcome) {
        super(context);
        this.host = host;
        this.settings = settings;
        this.outcome = outcome;
        this.opsLeft = opsLeft;
        this.peakUsed = peakUsed;
        this.live = new AtomicInteger(settings.processes());
        this.random = new SplittableRandom(host.settings().seed());
        this.hostActor = context.spawn(HostActor.create(host), "host");
        this.statsAdapter = context.messageAdapter(SecondaryMmu.Stats.class, SecondaryStats::new);
        context.ask(HostCommand.FileCreated.class, hostActor, TIMEOUT,
                r -> new HostCommand.CreateFile("churn-data", settings.filePages() * 4096L, r),
                (created, failure) -> new FileReady(created.file()));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(FileReady.class, this::onFileReady)
                .onMessage(Spawned.class, s -> {
                    HostCommand.ProcessSpawned p = s.spawned();
                    start(new ProcessDriver.Child(p.process(), p.mm(), List.of(), Map.of(), random.nextLong()));
                    return this;
                })
                .onMessage(Forked.class, f -> {
                    start(f.child());
                    return this;
                })
                .onMessage(Exited.class, this::onExited)
                .onMessage(SecondaryStats.class, this::onSecondaryStats)
                .onMessage(Deleted.class, d -> {
                    getContext().ask(HostCommand.AuditReport.class, hostActor, TIMEOUT, HostCommand.Audit::new,
                            (report, failure) -> new Audited(report));
                    return this;
                })
                .onMessage(Audited.class, a -> {
                    audit = a.report();
                    getContext().ask(PressureCounters.Snapshot.class, hostActor, TIMEOUT,
                            HostCommand.GetPressureStats::new, (p, failure) -> new Pressure(p));
                    return this;
                })
                .onMessage(Pressure.class, p -> {
                    outcome.complete(new Outcome(exited, secondaryStats, audit, p.snapshot(),
                            host.memory().totalFrames(), host.memory().freeFrames(), peakUsed.get()));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> onFileReady(FileReady f) {
        file = f.file();
        for (int i = 0; i < settings.processes(); i++) {
            getContext().ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                    r -> new HostCommand.SpawnProcess("churn", r), (spawned, failure) -> new Spawned(spawned));
        }
        return this;
    }

    private void start(ProcessDriver.Child child) {
        running++;
        String id = Long.toString(child.mmId());
        ActorRef<SecondaryMmu.Command> atomic = getContext().spawn(
                SecondaryMmu.create(child.mm(), child.mmId(), host.memory(), "atomic-" + id, Duration.ZERO,
                        statsAdapter, host.settings().variant()), "atomic-" + id);
        ActorRef<SecondaryMmu.Command> slow = getContext().spawn(
                SecondaryMmu.create(child.mm(), child.mmId(), host.memory(), "slow-" + id, settings.slowAckDelay(),
                        statsAdapter, host.settings().variant()), "slow-" + id);
        secondariesAlive += 2;
        long agent = AgentIds.next();
        host.events().agentNamed(agent, "process mm " + id);
        getContext().spawn(ProcessDriver.create(getContext().getSelf(), hostActor, child, file, settings,
                host.events(), List.of(atomic, slow), opsLeft, live, agent), "driver-" + id);
    }

    private Behavior<Command> onExited(Exited e) {
        exited.add(e.stats());
        live.decrementAndGet();
        --running;
        finishWhenQuiet();
        return this;
    }

    private Behavior<Command> onSecondaryStats(SecondaryStats s) {
        secondaryStats.add(s.stats());
        secondariesAlive--;
        finishWhenQuiet();
        return this;
    }

    /** Every process exited and every secondary stopped: clean up and audit. */
    private void finishWhenQuiet() {
        if (running == 0 && secondariesAlive == 0) {
            deleteFile();
        }
    }

    private void deleteFile() {
        getContext().ask(MmResult.class, hostActor, TIMEOUT, r -> new HostCommand.DeleteFile(file, r),
                (result, failure) -> new Deleted(result));
    }
}
