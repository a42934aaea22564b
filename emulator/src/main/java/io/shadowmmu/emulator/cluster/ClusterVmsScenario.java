package io.shadowmmu.emulator.cluster;

import akka.actor.typed.javadsl.AskPattern;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.gru.GruSharding;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.config.Variant;
import io.shadowmmu.emulator.oracle.OracleSupport;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.scenario.oracle.Violation;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * {@code cluster-vms}: three nodes on 127.0.0.1 in this JVM, VMs placed on them by Cluster Sharding (each VM's
 * process, guest RAM and KVM on its shard's node). The driver touches the VMs' guest memory, one access per VM per
 * round, checking every read against the last value it wrote to that VM (a VM that moved starts with fresh RAM).
 * Beside them, GRU devices placed the same way run jobs of their user processes ({@link GruJobs}). Halfway through,
 * the third node leaves: its VMs and devices start again on the others. Each node has its own oracle and exact frame
 * audit; their verdicts are merged into the run's.
 */
public final class ClusterVmsScenario implements Scenario {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final int WORDS = 8;

    /** {@code shadowmmu.cluster.vms-scenario}. */
    private record Settings(int nodes, int vms, int guestPages, boolean leave, long defaultOps, int gruDevices,
                            int gruPages, long gruInstructions) {
        static Settings read(io.shadowmmu.config.Settings settings) {
            io.shadowmmu.config.ConfigReader r = settings.reader().section("cluster.vms-scenario");
            int nodes = r.intBetween("nodes", 1, 9);
            boolean leave = r.getBoolean("leave");
            if (leave && nodes < 2) {
                throw r.fail("leave", "needs at least two nodes (set leave = off for one)");
            }
            return new Settings(nodes, r.intBetween("vms", 1, 256), r.intBetween("guest-pages", 1, 1 << 16), leave,
                    r.longAtLeast("default-ops", 1), r.intBetween("gru-devices", 0, 256),
                    r.intBetween("gru-pages", 1, 1 << 16), r.longAtLeast("gru-instructions", 1));
        }
    }

    @Override
    public String name() {
        return "cluster-vms";
    }

    @Override
    public String description() {
        return "3 nodes on 127.0.0.1 run VMs and GRU devices placed by Cluster Sharding; one node leaves mid-run and"
                + " its entities move (--ops = guest accesses)";
    }

    @Override
    public String cannotExhibit(Variant variant) {
        return variant == Variant.NONE ? null : "scenario cluster-vms runs the correct protocol only (variant "
                + variant.name().toLowerCase(java.util.Locale.ROOT) + ": use vm-tdp, vm-shadow or cluster)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ClusterSettings cs = ClusterSettings.read(run.settings());
        Settings sc = Settings.read(run.settings());
        long ops = run.opsOr(sc.defaultOps());
        List<OracleSupport> oracles = new ArrayList<>();
        List<ClusterNode> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < sc.nodes(); i++) {
                OracleSupport o = i == 0 ? run.oracle() : OracleSupport.create(run.settings());
                oracles.add(o);
                NodeOptions options = NodeOptions.loopback(0, List.of())
                        .withFailureDetection(Duration.ofSeconds(10), Duration.ofSeconds(7));
                ClusterNode n = ClusterNode.start(options, run.settings(), cs, o.events());
                nodes.add(n);
                if (i == 0) {
                    n.joinSelf();
                } else {
                    n.join(nodes.get(0));
                }
            }
            for (ClusterNode n : nodes) {
                until(() -> n.seesUp(sc.nodes()), "node " + n.hostPort() + " sees every member up");
            }
            for (ClusterNode n : nodes) {
                VmSharding.init(n, sc.guestPages());
                GruSharding.init(n, sc.gruPages());
            }
            return drive(run, sc, ops, nodes, oracles);
        } finally {
            for (ClusterNode n : nodes) {
                n.close();
            }
            for (ClusterNode n : nodes) {
                n.system().getWhenTerminated().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }

    private static final class Totals {
        final AtomicLong done = new AtomicLong();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong faults = new AtomicLong();
        final AtomicLong lost = new AtomicLong();
        final AtomicLong moves = new AtomicLong();
        final AtomicLong wrong = new AtomicLong();
        final Map<String, Long> perNode = new HashMap<>();
    }

    private ScenarioResult drive(ScenarioRun run, Settings sc, long ops, List<ClusterNode> nodes,
                                 List<OracleSupport> oracles) throws Exception {
        ClusterNode driver = nodes.get(0);
        ClusterNode leaving = sc.leave() ? nodes.get(sc.nodes() - 1) : null;
        String leavingAt = leaving == null ? "none" : leaving.hostPort();
        Totals t = new Totals();
        GruJobs gru = new GruJobs();
        java.util.concurrent.atomic.AtomicBoolean vmsDone = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.Executor threads = task -> new Thread(task, "cluster-vms-driver").start();
        long started = System.nanoTime();
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try {
                workload(run, sc, ops, driver, leaving, t);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                vmsDone.set(true);
            }
        }, threads);
        // The GRU jobs run beside the guest accesses until those are done, through the same leave.
        CompletableFuture<Void> gruDone = sc.gruDevices() == 0 ? CompletableFuture.completedFuture(null)
                : CompletableFuture.runAsync(() -> gru.until(vmsDone::get, driver, GruJobs.ids(sc.gruDevices()),
                sc.gruInstructions(), run.seed()), threads);
        Awaiting.outcome(run, done, t.done::get, ops,
                () -> String.format("moves %d  lost %d  wrong %d  gru jobs %d", t.moves.get(), t.lost.get(),
                        t.wrong.get(), gru.jobs.get()));
        long elapsedNanos = System.nanoTime() - started;
        gruDone.get(2 * STEP.toSeconds(), TimeUnit.SECONDS);

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
        double seconds = elapsedNanos / 1e9;
        ScenarioResult r = new ScenarioResult()
                .put("ops", ops)
                .put("nodes", sc.nodes())
                .put("vms.count", sc.vms())
                .put("accesses.ok", t.ok.get())
                .put("accesses.faults", t.faults.get())
                .put("accesses.lost", t.lost.get())
                .put("accesses.wrong", t.wrong.get())
                .put("accesses.perSecond", Math.round(t.ok.get() / Math.max(seconds, 1e-9)))
                .put("vms.moves", t.moves.get())
                .put("vms.nodesUsed", t.perNode.size())
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
                .put("frames.leaked", leaked);
        r.line(String.format("%d nodes, %d VMs placed by sharding on %d nodes: %,d guest accesses (%,d ok, %,d"
                        + " faults, %,d lost, %,d wrong) in %.1f s", sc.nodes(), sc.vms(), t.perNode.size(), ops,
                t.ok.get(),
                t.faults.get(), t.lost.get(), t.wrong.get(), seconds));
        r.line(String.format("%d GRU devices placed by sharding on %d nodes: %,d jobs (%,d lost), %,d instructions,"
                        + " %,d reads checked, %,d stale, %,d flushes mid-job, %d moves", sc.gruDevices(),
                gru.perNode.size(), gru.jobs.get(), gru.lost.get(), gru.instructions.get(), gru.checkedReads.get(),
                gru.staleReads.get(), gru.flushes.get(), gru.moves.get()));
        r.line(leaving == null ? "no node left" : String.format("node %s left halfway: %d VM moves seen", leavingAt,
                t.moves.get()));
        r.line(String.format("frames: %d leaked, audits of the %d remaining nodes %s", leaked, audits.size(),
                clean ? "clean" : "FAILED"));
        return r;
    }

    /** Runs on a plain thread: rounds of one access per VM, waiting for each round (never on an actor's thread). */
    private static void workload(ScenarioRun run, Settings sc, long ops, ClusterNode driver, ClusterNode leaving,
                                 Totals t) throws Exception {
        SplittableRandom random = new SplittableRandom(run.seed());
        Map<String, Map<Long, Long>> model = new HashMap<>();
        Map<String, String> placed = new HashMap<>();
        boolean left = leaving == null;
        while (t.done.get() < ops) {
            if (!left && t.done.get() >= ops / 2) {
                left = true;
                leaving.close();
                until(() -> driver.seesUp(sc.nodes() - 1), "node " + leaving.hostPort() + " is gone");
            }
            List<CompletionStage<VmEntity.Touched>> round = new ArrayList<>();
            List<long[]> asked = new ArrayList<>();
            for (int v = 0; v < sc.vms(); v++) {
                long gfn = random.nextInt(sc.guestPages());
                int word = random.nextInt(WORDS);
                boolean write = random.nextInt(10) < 3;
                long value = random.nextLong();
                asked.add(new long[] {gfn, word, write ? 1 : 0, value});
                round.add(VmSharding.vm(driver, "vm-" + v).ask(
                        replyTo -> new VmEntity.Touch(gfn, word, write, value, replyTo), STEP));
            }
            for (int v = 0; v < sc.vms(); v++) {
                t.done.incrementAndGet();
                VmEntity.Touched r;
                try {
                    r = round.get(v).toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
                } catch (Exception lost) {
                    t.lost.incrementAndGet();
                    continue;
                }
                String vm = "vm-" + v;
                if (r.error() != null) {
                    t.lost.incrementAndGet();
                    continue;
                }
                t.ok.incrementAndGet();
                if (r.fault()) {
                    t.faults.incrementAndGet();
                }
                t.perNode.merge(r.node(), 1L, Long::sum);
                String before = placed.put(vm, r.node());
                Map<Long, Long> written = model.computeIfAbsent(vm, k -> new HashMap<>());
                if (before != null && !before.equals(r.node())) {
                    t.moves.incrementAndGet();
                    written.clear(); // started again elsewhere: fresh RAM
                }
                long[] a = asked.get(v);
                long key = a[0] * WORDS + a[1];
                if (a[2] == 1) {
                    written.put(key, a[3]);
                } else {
                    long expected = written.getOrDefault(key, 0L);
                    if (r.value() != expected) {
                        t.wrong.incrementAndGet();
                        run.oracle().events().violation(Invariant.I1, -1, vm + " on " + r.node() + " read "
                                + r.value() + " at gfn " + a[0] + " word " + a[1] + ", last written " + expected);
                    }
                }
            }
        }
    }

    /** Polls on the CLI thread (never an actor's) until the condition holds. */
    private static void until(BooleanSupplier condition, String what) throws TimeoutException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("waited " + STEP.toSeconds() + " s for: " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
        }
    }
}
