package io.shadowmmu.gru.workload;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs P user processes on D GRU devices of one host and answers their counters: spawns the devices and the
 * processes (each maps a region and opens a context on device {@code p % D}), lets each issue its instructions,
 * exits the processes (the devices see Release), collects every device's counters, and stops.
 */
public final class GruWorkload extends AbstractBehavior<GruWorkload.Command> {

    public sealed interface Command {
    }

    private record Spawned(HostCommand.ProcessSpawned spawned) implements Command {
    }

    private record ProcessDone(GruProcess.Report report) implements Command {
    }

    private record Exited(MmResult result) implements Command {
    }

    private record Stats(GruStats stats) implements Command {
    }

    /**
     * @param churnEveryBatches 0: no host memory operations; otherwise each process issues one every that many
     *                          batches (DONTNEED, mprotect read-only and back, munmap + remap)
     */
    public record Plan(int processes, int devices, long instructionsPerProcess, long regionBytes, int batchSize,
                       Mix mix, long seed, int churnEveryBatches) {
        public Plan {
            if (processes < 1 || devices < 1) {
                throw new IllegalArgumentException("gru workload needs at least one process and one device: "
                        + processes + " processes, " + devices + " devices");
            }
        }
    }

    public record Result(List<GruProcess.Report> processes, List<GruStats> devices, GruStats total) {
        public long instructions() {
            long n = 0;
            for (GruProcess.Report r : processes) {
                n += r.instructions();
            }
            return n;
        }
    }

    private final Plan plan;
    private final ActorRef<Result> replyTo;
    private final List<ActorRef<GruCommand>> devices = new ArrayList<>();
    private final List<ActorRef<MmCommand>> mms = new ArrayList<>();
    private final List<GruProcess.Report> reports = new ArrayList<>();
    private final List<GruStats> stats = new ArrayList<>();
    private final ActorRef<GruProcess.Report> reportAdapter;
    private int exited;

    public static Behavior<Command> create(Plan plan, GruSettings settings, ActorRef<HostCommand> host,
                                           PhysicalMemory memory, CoherenceEvents events,
                                           ActorRef<Result> replyTo) {
        return Behaviors.setup(ctx -> new GruWorkload(ctx, plan, settings, host, memory, events, replyTo));
    }

    private GruWorkload(ActorContext<Command> context, Plan plan, GruSettings settings, ActorRef<HostCommand> host,
                        PhysicalMemory memory, CoherenceEvents events, ActorRef<Result> replyTo) {
        super(context);
        this.plan = plan;
        this.replyTo = replyTo;
        for (int d = 0; d < plan.devices(); d++) {
            devices.add(context.spawn(GruDevice.create("gru" + d, settings, memory, events), "gru" + d));
        }
        this.reportAdapter = context.messageAdapter(GruProcess.Report.class, ProcessDone::new);
        ActorRef<HostCommand.ProcessSpawned> spawned = context.messageAdapter(HostCommand.ProcessSpawned.class,
                Spawned::new);
        for (int p = 0; p < plan.processes(); p++) {
            host.tell(new HostCommand.SpawnProcess("gru-user" + p, spawned));
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Spawned.class, this::onSpawned)
                .onMessage(ProcessDone.class, this::onProcessDone)
                .onMessage(Exited.class, this::onExited)
                .onMessage(Stats.class, this::onStats)
                .build();
    }

    private Behavior<Command> onSpawned(Spawned s) {
        HostCommand.ProcessSpawned p = s.spawned();
        int index = mms.size();
        mms.add(p.process());
        GruProcess.Plan pp = new GruProcess.Plan(p.name(), p.mm(), p.process(),
                devices.get(index % devices.size()), 0, plan.regionBytes(), plan.instructionsPerProcess(),
                plan.batchSize(), plan.mix(), plan.seed() * 1_000_003 + index, plan.churnEveryBatches());
        getContext().spawn(GruProcess.create(pp, reportAdapter), "proc" + index);
        return this;
    }

    private Behavior<Command> onProcessDone(ProcessDone d) {
        reports.add(d.report());
        if (reports.size() == plan.processes()) {
            ActorRef<MmResult> exits = getContext().messageAdapter(MmResult.class, Exited::new);
            for (ActorRef<MmCommand> mm : mms) {
                mm.tell(new MmCommand.Exit(exits));
            }
        }
        return this;
    }

    private Behavior<Command> onExited(Exited e) {
        if (++exited == mms.size()) {
            ActorRef<GruStats> adapter = getContext().messageAdapter(GruStats.class, Stats::new);
            for (ActorRef<GruCommand> d : devices) {
                d.tell(new GruCommand.GetStats(adapter));
            }
        }
        return this;
    }

    private Behavior<Command> onStats(Stats s) {
        stats.add(s.stats());
        if (stats.size() < devices.size()) {
            return this;
        }
        GruStats total = GruStats.empty();
        for (GruStats g : stats) {
            total = total.plus(g);
        }
        reports.sort(java.util.Comparator.comparing(GruProcess.Report::name));
        stats.sort(java.util.Comparator.comparing(GruStats::device));
        replyTo.tell(new Result(List.copyOf(reports), List.copyOf(stats), total));
        return Behaviors.stopped();
    }
}
