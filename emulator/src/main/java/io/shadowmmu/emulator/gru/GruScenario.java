package io.shadowmmu.emulator.gru;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
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
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code gru}: P user processes on D GRU-style devices issue loads, stores and AMOs on their memory while a host
 * stressor munmaps and remaps, write-protects and unprotects pages of it and forks the process. Each device is an
 * atomic subscriber of every mm bound to it.
 */
public final class GruScenario implements Scenario {

    @Override
    public String name() {
        return "gru";
    }

    @Override
    public String description() {
        return "processes drive GRU-style device TLBs while the host munmaps, mprotects and forks their memory"
                + " (--ops = device instructions)";
    }

    private record Params(int processes, int regionPages, Duration stressInterval, long defaultOps) {
    }

    private record Outcome(List<GruProcess.Result> processes, List<GruStats> devices, long stressOps,
                           HostCommand.AuditReport audit) {
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ConfigReader r = run.settings().reader().section("gru-scenario");
        Params p = new Params(r.intBetween("processes", 1, 1024), r.intBetween("region-pages", 1, 1 << 20),
                r.duration("stress-interval", Duration.ofNanos(100_000), Duration.ofMinutes(1)),
                r.longAtLeast("default-ops", 1));
        GruSettings gru = GruSettings.read(run.settings());
        long ops = run.opsOr(p.defaultOps());
        long perProcess = Math.max(1, ops / p.processes());
        HostContext host = HostContext.create(run.settings(), run.oracle().events());
        AtomicLong done = new AtomicLong();
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        ActorSystem<Object> system = ActorSystem.create(guardian(host, gru, p, perProcess, done, outcome), "gru",
                EmbeddedSystem.config(run.settings()));
        Outcome o;
        try {
            while (true) {
                try {
                    o = outcome.get(200, TimeUnit.MILLISECONDS);
                    break;
                } catch (TimeoutException stillRunning) {
                    run.progress().update(done.get() * perProcess, perProcess * p.processes(),
                            String.format("frames in use %,d  violations %d", host.memory().usedFrames(),
                                    run.oracle().total()));
                }
            }
        } finally {
            system.terminate();
        }
        run.oracle().finish(o.audit());
        return report(gru, perProcess * p.processes(), o);
    }

    private static ScenarioResult report(GruSettings gru, long ops, Outcome o) {
        long hits = 0;
        long misses = 0;
        long dropins = 0;
        long failures = 0;
        long flushes = 0;
        long entries = 0;
        long waits = 0;
        long steals = 0;
        for (GruStats s : o.devices()) {
            hits += s.hits();
            misses += s.misses();
            dropins += s.dropins();
            failures += s.dropinFailures();
            flushes += s.flushes();
            entries += s.entriesFlushed();
            waits += s.handleWaits();
            steals += s.contextSteals();
        }
        long instructions = 0;
        long hostFaults = 0;
        long segvs = 0;
        for (GruProcess.Result r : o.processes()) {
            instructions += r.instructions();
            hostFaults += r.hostFaults();
            segvs += r.segvs();
        }
        ScenarioResult r = new ScenarioResult().put("ops", ops)
                .put("gru.devices", o.devices().size()).put("gru.contexts", gru.contextsPerDevice())
                .put("gru.hits", hits).put("gru.misses", misses).put("gru.dropins", dropins)
                .put("gru.dropinFailures", failures).put("gru.flushes", flushes).put("gru.entriesFlushed", entries)
                .put("gru.handleWaits", waits).put("gru.contextSteals", steals)
                .put("processes.instructions", instructions).put("processes.hostFaults", hostFaults)
                .put("processes.segvs", segvs).put("stressor.ops", o.stressOps())
                .put("host.frames.leaked", o.audit().leaked());
        r.line(String.format("%,d device instructions by %d processes on %d devices: TLB %,d hits / %,d misses,"
                + " %,d drop-ins, %,d drop-in failures (host faults %,d, SIGSEGV %,d)", instructions,
                o.processes().size(), o.devices().size(), hits, misses, dropins, failures, hostFaults, segvs));
        r.line(String.format("flushes %,d (%,d entries), flush-handle waits %,d, context steals %,d; host stressor"
                + " %,d operations; frames audit %s", flushes, entries, waits, steals, o.stressOps(),
                o.audit().clean() ? "clean" : "FAILED"));
        return r;
    }

    /** Sets everything up, waits for every process, then stops the stressors, collects and audits. */
    private static Behavior<Object> guardian(HostContext host, GruSettings gru, Params p, long perProcess,
                                             AtomicLong finishedProcesses, CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> {
            Duration timeout = Duration.ofSeconds(60);
            ActorRef<HostCommand> hostActor = ctx.spawn(HostActor.create(host), "host");
            List<ActorRef<GruCommand>> devices = new ArrayList<>();
            for (int d = 0; d < gru.devices(); d++) {
                devices.add(ctx.spawn(GruDevice.create("gru" + d, gru, host.memory()), "gru" + d));
            }
            List<GruProcess.Result> results = new ArrayList<>();
            List<GruStats> deviceStats = new ArrayList<>();
            List<ActorRef<MmCommand>> mms = new ArrayList<>();
            List<ActorRef<GruStressor.Command>> stressors = new ArrayList<>();
            AtomicLong stressOps = new AtomicLong();
            HostCommand.AuditReport[] audit = new HostCommand.AuditReport[1];
            int[] pending = {0};
            ActorRef<GruProcess.Result> resultRef = ctx.messageAdapter(GruProcess.Result.class, x -> x);
            ActorRef<GruStressor.Stopped> stoppedRef = ctx.messageAdapter(GruStressor.Stopped.class, x -> x);
            int[] stressorsRunning = {0};
            SplittableRandom seeds = new SplittableRandom(host.settings().seed());
            for (int i = 0; i < p.processes(); i++) {
                int proc = i;
                long seed = seeds.nextLong();
                ctx.ask(HostCommand.ProcessSpawned.class, hostActor, timeout,
                        reply -> new HostCommand.SpawnProcess("gru-user-" + proc, reply),
                        (spawned, f) -> new Started(proc, spawned, seed));
            }
            return Behaviors.receive(Object.class)
                    .onMessage(Started.class, s -> {
                        ActorRef<MmCommand> mm = s.spawned().process();
                        mms.add(mm);
                        ctx.ask(MmResult.class, mm, timeout, reply -> new MmCommand.Mmap(0,
                                p.regionPages() * 4096L, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0, reply),
                                (m, f) -> new Mapped(s, m));
                        return Behaviors.same();
                    })
                    .onMessage(Mapped.class, m -> {
                        long va = ((MmResult.Done) m.result()).value();
                        Range region = new Range(va, va + p.regionPages() * 4096L);
                        HostCommand.ProcessSpawned sp = m.started().spawned();
                        ctx.spawn(GruProcess.create(devices.get(m.started().index() % devices.size()), sp.process(),
                                sp.mm(), "gru-user-" + m.started().index(), List.of(region), gru,
                                m.started().seed(), perProcess, resultRef), "user-" + m.started().index());
                        stressors.add(ctx.spawn(GruStressor.create(sp.process(), region, p.stressInterval(),
                                m.started().seed() ^ 0x5f5f, stressOps, stoppedRef), "stress-" + m.started().index()));
                        stressorsRunning[0]++;
                        return Behaviors.same();
                    })
                    .onMessage(GruProcess.Result.class, res -> {
                        results.add(res);
                        finishedProcesses.incrementAndGet();
                        if (results.size() < p.processes()) {
                            return Behaviors.same();
                        }
                        for (ActorRef<GruStressor.Command> st : stressors) {
                            st.tell(GruStressor.Stop.INSTANCE);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(GruStressor.Stopped.class, stopped -> {
                        // Collect only once every stressor (and every child it forked) is gone.
                        if (--stressorsRunning[0] > 0) {
                            return Behaviors.same();
                        }
                        pending[0] = devices.size();
                        for (ActorRef<GruCommand> d : devices) {
                            ctx.ask(GruStats.class, d, timeout, GruCommand.GetStats::new, (st, f) -> st);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(GruStats.class, st -> {
                        deviceStats.add(st);
                        if (--pending[0] > 0) {
                            return Behaviors.same();
                        }
                        pending[0] = mms.size();
                        for (ActorRef<MmCommand> mm : mms) {
                            ctx.ask(MmResult.class, mm, timeout, MmCommand.Exit::new, (x, f) -> new Exited());
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Exited.class, e -> {
                        if (--pending[0] == 0) {
                            ctx.ask(HostCommand.AuditReport.class, hostActor, timeout, HostCommand.Audit::new,
                                    (a, f) -> a);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(HostCommand.AuditReport.class, a -> {
                        outcome.complete(new Outcome(results, deviceStats, stressOps.get(), a));
                        return Behaviors.stopped();
                    })
                    .build();
        });
    }

    private record Started(int index, HostCommand.ProcessSpawned spawned, long seed) {
    }

    private record Mapped(Started started, MmResult result) {
    }

    private record Exited() {
    }
}
