package io.shadowmmu.emulator.cluster;

import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.javadsl.AskPattern;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.exporter.ExporterCounters;
import io.shadowmmu.cluster.gru.GruSharding;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.vm.CrashingNode;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.config.Variant;
import io.shadowmmu.emulator.oracle.OracleSupport;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.scenario.oracle.Violation;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * {@code cluster-vms}: nodes on 127.0.0.1 in this JVM, VMs placed on them by Cluster Sharding (each VM's process,
 * guest RAM and KVM on its shard's node). A driver per node touches the guest memory of the VMs placed there
 * ({@link VmDriver}), checking every read against the last value it wrote; with {@code imported-ram} the guest RAM
 * lives in segments of the first node's processes and survives moves. Beside them, GRU devices placed the same way
 * run jobs of their user processes ({@link GruJobs}). Halfway through, the last node leaves (or is killed): its VMs
 * and devices start again on the others. Each node has its own oracle and exact frame audit; their verdicts are
 * merged into the run's.
 */
public final class ClusterVmsScenario implements Scenario {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final long PAGE = 4096;

    @Override
    public String name() {
        return "cluster-vms";
    }

    @Override
    public String description() {
        return "3 nodes on 127.0.0.1 run VMs and GRU devices placed by Cluster Sharding, driven from every node; one"
                + " node leaves (or is killed) mid-run and its entities move (--ops = guest accesses)";
    }

    @Override
    public String cannotExhibit(Variant variant) {
        return variant == Variant.NONE ? null : "scenario cluster-vms runs the correct protocol only (variant "
                + variant.name().toLowerCase(java.util.Locale.ROOT) + ": use vm-tdp, vm-shadow or cluster)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ClusterSettings cs = ClusterSettings.read(run.settings());
        VmsSettings sc = VmsSettings.read(run.settings());
        long ops = run.opsOr(sc.defaultOps());
        List<OracleSupport> oracles = new ArrayList<>();
        List<ClusterNode> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < sc.nodes(); i++) {
                OracleSupport o = i == 0 ? run.oracle() : OracleSupport.create(run.settings());
                oracles.add(o);
                NodeOptions options = NodeOptions.loopback(0, List.of())
                        .withFailureDetection(Duration.ofSeconds(10), Duration.ofSeconds(7));
                boolean killed = sc.kill() && i == sc.nodes() - 1;
                ClusterNode n = ClusterNode.start(options, killed ? CrashingNode.settings(run.settings())
                        : run.settings(), cs, o.events());
                nodes.add(n);
                if (i == 0) {
                    n.joinSelf();
                } else {
                    n.join(nodes.get(0));
                }
            }
            for (ClusterNode n : nodes) {
                until(() -> n.seesUp(sc.nodes()), "node " + n.hostPort() + " sees every member up", STEP);
            }
            List<GuestRam> ram = sc.importedRam() ? exportGuestRam(nodes.get(0), sc) : List.of();
            Map<String, VmSharding.RamSource> sources = new HashMap<>();
            for (GuestRam g : ram) {
                sources.put(g.vm(), g.source());
            }
            VmSharding.Placement placement = sc.driver() == VmsSettings.Driver.PER_NODE
                    ? VmSharding.Placement.WHERE_ASKED : VmSharding.Placement.SPREAD;
            for (ClusterNode n : nodes) {
                VmSharding.init(n, sc.guestPages(), sources::get, sc.blockPages(), placement);
                if (sc.gruDevices() > 0) {
                    GruSharding.init(n, sc.gruPages());
                }
            }
            return drive(run, sc, ops, nodes, oracles, ram);
        } finally {
            for (ClusterNode n : nodes) {
                n.close();
            }
            for (ClusterNode n : nodes) {
                n.system().getWhenTerminated().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }

    /** A VM's guest RAM on the first node: the process that maps it and the segment it is exported as. */
    private record GuestRam(String vm, HostCommand.ProcessSpawned process, long start,
                            VmSharding.RamSource source) {
    }

    /** On the CLI thread: one process per VM on the first node maps the VM's RAM and exports it (writable). */
    private static List<GuestRam> exportGuestRam(ClusterNode n, VmsSettings sc) throws Exception {
        String exporter = ActorRefResolver.get(n.system()).toSerializationFormat(n.exporter());
        long length = sc.guestPages() * PAGE;
        List<GuestRam> ram = new ArrayList<>();
        for (int v = 0; v < sc.vms(); v++) {
            String vm = VmDriver.id(v);
            HostCommand.ProcessSpawned p = AskPattern.<HostCommand, HostCommand.ProcessSpawned>ask(n.hostActor(),
                    r -> new HostCommand.SpawnProcess("ram-" + vm, r), STEP, n.system().scheduler())
                    .toCompletableFuture().get();
            MmResult mapped = AskPattern.<MmCommand, MmResult>ask(p.process(),
                    r -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, r), STEP, n.system().scheduler())
                    .toCompletableFuture().get();
            long start = ((MmResult.Done) mapped).value();
            Exporter.Exported e = AskPattern.<io.shadowmmu.cluster.protocol.ToExporter, Exporter.Exported>ask(
                    n.exporter(), r -> new Exporter.Export(p.process(), p.mm(), start, length, true, r), STEP,
                    n.system().scheduler()).toCompletableFuture().get();
            if (e.error() != null) {
                throw new IllegalStateException("guest RAM of " + vm + ": " + e.error());
            }
            ram.add(new GuestRam(vm, p, start, new VmSharding.RamSource(exporter, e.segment())));
        }
        return ram;
    }

    private ScenarioResult drive(ScenarioRun run, VmsSettings sc, long ops, List<ClusterNode> nodes,
                                 List<OracleSupport> oracles, List<GuestRam> ram) throws Exception {
        ClusterNode first = nodes.get(0);
        ClusterNode leaving = sc.leave() ? nodes.get(sc.nodes() - 1) : null;
        String leavingAt = leaving == null ? "none" : leaving.hostPort();
        VmDriver.Totals t = new VmDriver.Totals();
        GruJobs gru = new GruJobs();
        AtomicBoolean vmsDone = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong migrations = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.Executor threads = task -> new Thread(task, "cluster-vms-driver").start();
        VmDriver driver = new VmDriver(run, sc, t, sc.kill() ? leavingAt : null, threads);
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try {
                driver.workload(ops, nodes, leaving);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                vmsDone.set(true);
            }
        }, threads);
        // The GRU jobs and the migrations of imported RAM run beside the guest accesses until those are done.
        CompletableFuture<Void> gruDone = sc.gruDevices() == 0 ? CompletableFuture.completedFuture(null)
                : CompletableFuture.runAsync(() -> gru.until(vmsDone::get, first, GruJobs.ids(sc.gruDevices()),
                sc.gruInstructions(), run.seed()), threads);
        CompletableFuture<Void> migrating = ram.isEmpty() || sc.migrateInterval().isZero()
                ? CompletableFuture.completedFuture(null)
                : CompletableFuture.runAsync(() -> migrate(first, sc, ram, vmsDone::get, migrations, run.seed()),
                threads);
        Awaiting.outcome(run, done, t.done::get, ops,
                () -> String.format("moves %d  lost %d  wrong %d  gru jobs %d", t.moves.get(), t.lost.get(),
                        t.wrong.get(), gru.jobs.get()));
        gruDone.get(2 * STEP.toSeconds(), TimeUnit.SECONDS);
        migrating.get(2 * STEP.toSeconds(), TimeUnit.SECONDS);

        // The surviving nodes are audited at a quiescent point; the VMs' processes still map their RAM.
        List<HostCommand.AuditReport> audits = new ArrayList<>();
        long leaked = 0;
        boolean clean = true;
        for (int i = 0; i < (leaving == null ? sc.nodes() : sc.nodes() - 1); i++) {
            ClusterNode n = nodes.get(i);
            HostCommand.AuditReport audit = AskPattern.<HostCommand, HostCommand.AuditReport>ask(n.hostActor(),
                    HostCommand.Audit::new, STEP, n.system().scheduler()).toCompletableFuture().get();
            audits.add(audit);
            oracles.get(i).finish(audit);
            leaked += audit.leaked();
            clean &= audit.clean();
        }
        for (int i = 1; i < sc.nodes(); i++) {
            if (oracles.get(i).oracle() == null) {
                continue;
            }
            for (Violation v : oracles.get(i).oracle().violations()) {
                run.oracle().events().violation(v.invariant(), -1, "node " + nodes.get(i).hostPort() + ": "
                        + v.describe());
            }
        }
        return report(sc, ops, t, gru, leavingAt, first.counters(), migrations.get(), audits.size(), leaked, clean);
    }

    private static ScenarioResult report(VmsSettings sc, long ops, VmDriver.Totals t, GruJobs gru, String leavingAt,
                                         ExporterCounters exported, long migrations, int audited, long leaked,
                                         boolean clean) {
        double seconds = t.drivingNanos.get() / 1e9;
        ScenarioResult r = new ScenarioResult()
                .put("ops", ops)
                .put("nodes", sc.nodes())
                .put("driver", sc.driver().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'))
                .put("vms.count", sc.vms())
                .put("accesses.ok", t.ok.get())
                .put("accesses.local", t.local.get())
                .put("accesses.faults", t.faults.get())
                .put("accesses.lost", t.lost.get())
                .put("accesses.wrong", t.wrong.get())
                .put("accesses.unchecked", t.unchecked.get())
                .put("accesses.perSecond", Math.round(t.ok.get() / Math.max(seconds, 1e-9)))
                .put("accesses.drivingSeconds", Math.round(seconds * 10) / 10.0)
                .put("vms.moves", t.moves.get())
                .put("vms.nodesUsed", t.perNode.size())
                .put("importedRam.on", sc.importedRam())
                .put("importedRam.pagesCopied", exported.pagesCopied.get())
                .put("importedRam.writtenBack", exported.writtenBack.get())
                .put("importedRam.invalidations", exported.invalidationsSent.get())
                .put("importedRam.acks", exported.acks.get())
                .put("importedRam.fencedByDeadline", exported.fencedByDeadline.get())
                .put("importedRam.fencedByNodeLoss", exported.fencedByNodeLoss.get())
                .put("importedRam.remoteWordAccesses", exported.accesses.get())
                .put("importedRam.migrations", migrations)
                .put("gru.devices", sc.gruDevices())
                .put("gru.jobs", gru.jobs.get())
                .put("gru.lost", gru.lost.get())
                .put("gru.instructions", gru.instructions.get())
                .put("gru.checkedReads", gru.checkedReads.get())
                .put("gru.staleReads", gru.staleReads.get())
                .put("gru.flushes", gru.flushes.get())
                .put("gru.moves", gru.moves.get())
                .put("gru.nodesUsed", gru.perNode.size())
                .put("leftNode", leavingAt)
                .put("killed", sc.kill())
                .put("frames.leaked", leaked);
        r.line(String.format("%d nodes, %d VMs placed by sharding on %d nodes, driven %s: %,d guest accesses (%,d ok,"
                        + " %,d local to their driver, %,d faults, %,d lost, %,d wrong, %,d unchecked) in %.1f s of"
                        + " driving: %,d accesses/s", sc.nodes(), sc.vms(), t.perNode.size(),
                sc.driver() == VmsSettings.Driver.PER_NODE ? "from every node" : "from the first node", ops,
                t.ok.get(), t.local.get(), t.faults.get(), t.lost.get(), t.wrong.get(), t.unchecked.get(), seconds,
                Math.round(t.ok.get() / Math.max(seconds, 1e-9))));
        if (sc.importedRam()) {
            r.line(String.format("guest RAM imported from the first node: %,d pages copied, %,d written back, %,d"
                            + " invalidations acked of %,d sent, %,d migrations, fenced: %d by deadline, %d by node"
                            + " loss; %d per-word remote accesses", exported.pagesCopied.get(),
                    exported.writtenBack.get(), exported.acks.get(), exported.invalidationsSent.get(), migrations,
                    exported.fencedByDeadline.get(), exported.fencedByNodeLoss.get(), exported.accesses.get()));
        }
        r.line(String.format("%d GRU devices placed by sharding on %d nodes: %,d jobs (%,d lost), %,d instructions,"
                        + " %,d reads checked, %,d stale, %,d flushes mid-job, %d moves", sc.gruDevices(),
                gru.perNode.size(), gru.jobs.get(), gru.lost.get(), gru.instructions.get(), gru.checkedReads.get(),
                gru.staleReads.get(), gru.flushes.get(), gru.moves.get()));
        r.line(!sc.leave() ? "no node left" : String.format("node %s %s halfway: %d VM moves seen", leavingAt,
                sc.kill() ? "was killed" : "left", t.moves.get()));
        r.line(String.format("frames: %d leaked, audits of the %d remaining nodes %s", leaked, audited,
                clean ? "clean" : "FAILED"));
        return r;
    }

    /**
     * On a plain thread: the first node migrates one VM's guest RAM at a time (move_pages), so invalidations reach
     * the importing nodes' KVMs mid-run and bring the guests' writes back before the frames move.
     */
    private static void migrate(ClusterNode n, VmsSettings sc, List<GuestRam> ram, BooleanSupplier stop,
                                java.util.concurrent.atomic.AtomicLong migrations, long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed ^ 0x5eed);
        long length = sc.guestPages() * PAGE;
        while (!stop.getAsBoolean()) {
            GuestRam g = ram.get(random.nextInt(ram.size()));
            try {
                MmResult r = AskPattern.<MmCommand, MmResult>ask(g.process().process(),
                        to -> new MmCommand.MovePages(g.start(), length, to), STEP, n.system().scheduler())
                        .toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
                if (r.ok()) {
                    migrations.incrementAndGet();
                }
            } catch (Exception e) {
                return; // the node is going down
            }
            java.util.concurrent.locks.LockSupport.parkNanos(sc.migrateInterval().toNanos());
        }
    }

    /** Polls on the CLI thread (never an actor's) until the condition holds. */
    static void until(BooleanSupplier condition, String what, Duration within) throws TimeoutException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("waited " + within.toSeconds() + " s for: " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
        }
    }
}
