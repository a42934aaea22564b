package io.shadowmmu.gru.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import com.typesafe.config.Config;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The gru scenario as an actor: P host processes, each with one region of anonymous memory and a device context on
 * one of D devices (round robin), issue seeded loads, stores and AMOs, while a host stressor mprotects, munmaps,
 * madvises and forks their memory. When every process finished, the stressor stops, the processes exit, the host
 * audits its frames (I5) and the result goes to {@code replyTo}. With {@code gru.slow-ack} a {@link SlowAckSubscriber}
 * subscribes to every process's mm before the workload starts, so each invalidation stays open that long; with
 * {@code gru.context-churn} the devices re-create their mm bindings meanwhile, registering inside those windows.
 */
public final class GruScenario extends AbstractBehavior<GruScenario.Command> {

    public sealed interface Command {
    }

    /**
     * @param instructions instructions over all processes
     * @param stress       run the host stressor during the workload
     * @param stop         ends the processes early once it says true (asked between batches; must not block)
     */
    public record Params(GruSettings gru, long instructions, long seed, boolean stress, BooleanSupplier stop) {
        public Params(GruSettings gru, long instructions, long seed, boolean stress) {
            this(gru, instructions, seed, stress, () -> false);
        }
    }

    private record Spawned(HostCommand.ProcessSpawned process) implements Command {
    }

    private record Mapped(int index, MmResult result) implements Command {
    }

    private record Finished(GruProcess.Result result) implements Command {
    }

    private record Stopped(GruStressor.Counts counts) implements Command {
    }

    private record Stats(GruStats stats) implements Command {
    }

    private enum Exited implements Command {
        INSTANCE
    }

    private record Audited(HostCommand.AuditReport report) implements Command {
    }

    private record SlowSubscribed(MmCommand.Registered registration) implements Command {
    }

    private record SlowCount(SlowAckSubscriber.Count count) implements Command {
    }

    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

    private final HostContext host;
    private final Params params;
    private final ActorRef<GruResult> replyTo;
    private final ActorRef<HostCommand> hostActor;
    private final boolean ownsHost;
    private final List<ActorRef<GruCommand>> devices = new ArrayList<>();
    private final HostCommand.ProcessSpawned[] processes;
    private final Range[] regions;
    private final List<GruStats> deviceStats = new ArrayList<>();
    private final List<ActorRef<GruStressor.Command>> stressors = new ArrayList<>();
    private int stressorsStopped;
    private ActorRef<SlowAckSubscriber.Command> slowAck;
    private int slowSubscribed;
    private SlowAckSubscriber.Count slowCount;
    private GruStressor.Counts stress = new GruStressor.Counts(0, 0, 0, 0, 0);
    private int spawned;
    private int mapped;
    private int finished;
    private int exited;
    private long instructions;
    private long hostFaults;
    private long segvs;
    private long checkedReads;
    private long staleReads;

    public static Behavior<Command> create(HostContext host, Params params, ActorRef<GruResult> replyTo) {
        return Behaviors.setup(ctx -> new GruScenario(ctx, host, null, params, replyTo));
    }

    /**
     * The scenario as one part of a larger run on a host someone else owns: its processes are spawned by
     * {@code hostActor}, and the result carries no audit (a frame audit is only meaningful once every part of the
     * run has exited, which is the owner's to decide).
     */
    public static Behavior<Command> onHost(HostContext host, ActorRef<HostCommand> hostActor, Params params,
                                           ActorRef<GruResult> replyTo) {
        return Behaviors.setup(ctx -> new GruScenario(ctx, host, hostActor, params, replyTo));
    }

    /**
     * Runs the scenario in its own actor system and waits for it (for callers that are not actors, such as a CLI).
     */
    public static GruResult run(HostContext host, Params params, Config akka, Duration timeout) throws Exception {
        CompletableFuture<GruResult> result = new CompletableFuture<>();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
            ActorRef<GruResult> done = ctx.spawn(Behaviors.receive(GruResult.class)
                    .onAnyMessage(r -> {
                        result.complete(r);
                        return Behaviors.stopped();
                    }).build(), "result");
            ctx.spawn(create(host, params, done), "gru");
            return Behaviors.empty();
        }), "gru-scenario", akka);
        try {
            return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            system.terminate();
        }
    }

    private GruScenario(ActorContext<Command> context, HostContext host, ActorRef<HostCommand> sharedHost,
                        Params params, ActorRef<GruResult> replyTo) {
        super(context);
        this.ownsHost = sharedHost == null;
        this.host = host;
        this.params = params;
        this.replyTo = replyTo;
        GruSettings gru = params.gru();
        this.processes = new HostCommand.ProcessSpawned[gru.processes()];
        this.regions = new Range[gru.processes()];
        this.hostActor = ownsHost ? context.spawn(HostActor.create(host), "host") : sharedHost;
        for (int d = 0; d < gru.devices(); d++) {
            devices.add(context.spawn(GruDevice.create("gru" + d, gru, host.memory(),
                    host.settings().variant()), "gru" + d));
        }
        ActorRef<HostCommand.ProcessSpawned> spawnedRef = context.messageAdapter(HostCommand.ProcessSpawned.class,
                Spawned::new);
        for (int p = 0; p < gru.processes(); p++) {
            hostActor.tell(new HostCommand.SpawnProcess("user" + p, spawnedRef));
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Spawned.class, this::onSpawned)
                .onMessage(Mapped.class, this::onMapped)
                .onMessage(Finished.class, this::onFinished)
                .onMessage(Stopped.class, this::onStopped)
                .onMessage(Stats.class, this::onStats)
                .onMessageEquals(Exited.INSTANCE, this::onExited)
                .onMessage(Audited.class, this::onAudited)
                .onMessage(SlowSubscribed.class, this::onSlowSubscribed)
                .onMessage(SlowCount.class, c -> {
                    slowCount = c.count();
                    return exitWhenCounted();
                })
                .build();
    }

    private Behavior<Command> onSpawned(Spawned s) {
        int index = spawned++;
        processes[index] = s.process();
        long length = params.gru().regionBytes();
        getContext().ask(MmResult.class, s.process().process(), SETUP_TIMEOUT,
                r -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, r),
                (r, failure) -> new Mapped(index, r != null ? r
                        : new MmResult.Failed(io.shadowmmu.hostmm.mm.Errno.EAGAIN, String.valueOf(failure))));
        return this;
    }

    private Behavior<Command> onMapped(Mapped m) {
        if (!m.result().ok()) {
            throw new IllegalStateException("gru scenario: mmap of " + params.gru().regionBytes()
                    + " bytes for user" + m.index() + " failed: " + m.result());
        }
        long start = ((MmResult.Done) m.result()).value();
        regions[m.index()] = new Range(start, start + params.gru().regionBytes());
        if (++mapped < processes.length) {
            return this;
        }
        if (!params.gru().slowAck().isZero()) {
            // Every invalidation of these mms is to be slow from the first one: subscribe before any access.
            slowAck = getContext().spawn(SlowAckSubscriber.create(params.gru().slowAck()), "slow-ack");
            ActorRef<MmCommand.Registered> subscribed = getContext().messageAdapter(MmCommand.Registered.class,
                    SlowSubscribed::new);
            for (HostCommand.ProcessSpawned p : processes) {
                slowAck.tell(new SlowAckSubscriber.Subscribe(p.process(), subscribed));
            }
            return this;
        }
        startWorkload();
        return this;
    }

    private Behavior<Command> onSlowSubscribed(SlowSubscribed s) {
        if (++slowSubscribed == processes.length) {
            startWorkload();
        }
        return this;
    }

    private void startWorkload() {
        GruSettings gru = params.gru();
        ActorRef<GruProcess.Result> finishedRef = getContext().messageAdapter(GruProcess.Result.class, Finished::new);
        long each = params.instructions() / processes.length;
        // I1 needs word contents, and is the oracle's: checked in check mode with FULL contents only.
        io.shadowmmu.hostmm.events.CoherenceEvents golden = host.memory().checkMode()
                && host.memory().contentMode() == io.shadowmmu.config.ContentMode.FULL ? host.memory().events() : null;
        List<GruStressor.Target> targets = new ArrayList<>();
        for (int p = 0; p < processes.length; p++) {
            long share = p == 0 ? params.instructions() - each * (processes.length - 1) : each;
            HostCommand.ProcessSpawned proc = processes[p];
            ActorRef<GruProcess.Command> user = getContext().spawn(GruProcess.create(devices.get(p % devices.size()),
                    proc.process(), proc.mm(), proc.name(), List.of(regions[p]), gru, params.seed() * 1_000_003L + p,
                    share, params.stop(), golden, finishedRef), "proc" + p);
            targets.add(new GruStressor.Target(proc.process(), regions[p], user));
        }
        if (params.stress()) {
            if (gru.slowAck().isZero()) {
                stressors.add(getContext().spawn(GruStressor.create(targets, gru.stressPages(),
                        params.seed() ^ 0x5EEDL), "stressor"));
            } else {
                // One stressor per process: with slow acks a single one would make each process's invalidations
                // wait behind every other's, and each mm would have one in flight only a fraction of the time.
                for (int p = 0; p < targets.size(); p++) {
                    stressors.add(getContext().spawn(GruStressor.create(List.of(targets.get(p)), gru.stressPages(),
                            (params.seed() ^ 0x5EEDL) * 31 + p), "stressor" + p));
                }
            }
        }
    }

    private Behavior<Command> onFinished(Finished f) {
        instructions += f.result().instructions();
        hostFaults += f.result().hostFaults();
        segvs += f.result().segvs();
        checkedReads += f.result().checkedReads();
        staleReads += f.result().staleReads();
        if (++finished < processes.length) {
            return this;
        }
        if (!stressors.isEmpty()) {
            ActorRef<GruStressor.Counts> stopped = getContext().messageAdapter(GruStressor.Counts.class, Stopped::new);
            for (ActorRef<GruStressor.Command> s : stressors) {
                s.tell(new GruStressor.Stop(stopped));
            }
        } else {
            collectStats();
        }
        return this;
    }

    private Behavior<Command> onStopped(Stopped s) {
        stress = stress.plus(s.counts());
        if (++stressorsStopped < stressors.size()) {
            return this;
        }
        collectStats();
        return this;
    }

    private void collectStats() {
        ActorRef<GruStats> statsRef = getContext().messageAdapter(GruStats.class, Stats::new);
        for (ActorRef<GruCommand> d : devices) {
            d.tell(new GruCommand.GetStats(statsRef));
        }
        if (slowAck != null) {
            slowAck.tell(new SlowAckSubscriber.GetCount(getContext().messageAdapter(SlowAckSubscriber.Count.class,
                    SlowCount::new)));
        }
    }

    private Behavior<Command> onStats(Stats s) {
        deviceStats.add(s.stats());
        return exitWhenCounted();
    }

    private Behavior<Command> exitWhenCounted() {
        if (deviceStats.size() < devices.size() || (slowAck != null && slowCount == null)) {
            return this;
        }
        // Audit once every mm actor has stopped: by then each has told the host it exited.
        for (HostCommand.ProcessSpawned p : processes) {
            getContext().watchWith(p.process(), Exited.INSTANCE);
            p.process().tell(new MmCommand.Exit(getContext().getSystem().ignoreRef()));
        }
        return this;
    }

    private Behavior<Command> onExited() {
        if (++exited < processes.length) {
            return this;
        }
        if (!ownsHost) {
            return onAudited(new Audited(null));
        }
        hostActor.tell(new HostCommand.Audit(getContext().messageAdapter(HostCommand.AuditReport.class,
                Audited::new)));
        return this;
    }

    private Behavior<Command> onAudited(Audited a) {
        deviceStats.sort((x, y) -> x.name().compareTo(y.name()));
        replyTo.tell(GruResult.of(deviceStats, processes.length, instructions, hostFaults, segvs,
                slowCount == null ? 0 : slowCount.delayedAcks(), checkedReads, staleReads, stress, a.report()));
        return Behaviors.stopped();
    }
}
