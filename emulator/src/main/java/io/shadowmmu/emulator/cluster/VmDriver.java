package io.shadowmmu.emulator.cluster;

import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.hostmm.events.Invariant;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cluster-vms guest accesses, on plain threads (never an actor's). The run has one phase, or two around the
 * leave: in each, every driving node runs rounds of one access per VM it drives (30% writes), from that node, each
 * read checked against {@link VmModel}. With the per-node driver a node drives the VMs it was given, and sharding
 * places each on the node that first asked, so the accesses are local; after the leave the leaving node's VMs are
 * dealt out to the others, each to the node it came up on. With the first-node driver the first node drives them all.
 */
final class VmDriver {
    private static final Duration ASK = Duration.ofSeconds(10);
    /** Waiting for a node to be removed: a killed one takes the failure detector's pause plus the resolver's. */
    private static final Duration REMOVAL = Duration.ofSeconds(90);
    private static final int WORDS = 8;

    static final class Totals {
        final AtomicLong done = new AtomicLong();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong local = new AtomicLong();
        final AtomicLong faults = new AtomicLong();
        final AtomicLong lost = new AtomicLong();
        final AtomicLong moves = new AtomicLong();
        final AtomicLong wrong = new AtomicLong();
        final AtomicLong unchecked = new AtomicLong();
        /** Time spent in the phases, without the wait for a leaving node to be gone. */
        final AtomicLong drivingNanos = new AtomicLong();
        final Map<String, Long> perNode = new ConcurrentHashMap<>();
    }

    private final ScenarioRun run;
    private final VmsSettings sc;
    private final Totals t;
    private final String killed;
    private final Executor threads;
    private final VmModel[] models;

    /** @param killed the node that will be killed ({@code host:port}), or null */
    VmDriver(ScenarioRun run, VmsSettings sc, Totals t, String killed, Executor threads) {
        this.run = run;
        this.sc = sc;
        this.t = t;
        this.killed = killed;
        this.threads = threads;
        this.models = new VmModel[sc.vms()];
        for (int v = 0; v < sc.vms(); v++) {
            models[v] = new VmModel();
        }
    }

    static String id(int vm) {
        return "vm-" + vm;
    }

    void workload(long ops, List<ClusterNode> nodes, ClusterNode leaving) throws Exception {
        Map<ClusterNode, List<Integer>> drives = new LinkedHashMap<>();
        for (ClusterNode n : nodes) {
            drives.put(n, new ArrayList<>());
        }
        for (int v = 0; v < sc.vms(); v++) {
            ClusterNode n = sc.driver() == VmsSettings.Driver.PER_NODE ? nodes.get(v % nodes.size()) : nodes.get(0);
            drives.get(n).add(v);
        }
        phase(drives, leaving == null ? ops : ops / 2);
        if (leaving == null) {
            return;
        }
        List<Integer> orphans = drives.remove(leaving);
        leaving.close();
        List<ClusterNode> rest = new ArrayList<>(drives.keySet());
        for (ClusterNode n : rest) {
            ClusterVmsScenario.until(() -> n.seesUp(nodes.size() - 1), "node " + leaving.hostPort() + " is gone (as "
                    + n.hostPort() + " sees it)", REMOVAL);
        }
        List<ClusterNode> takers = sc.driver() == VmsSettings.Driver.PER_NODE ? rest : List.of(rest.get(0));
        for (int i = 0; i < orphans.size(); i++) {
            ClusterNode to = takers.get(i % takers.size());
            // Sharding delivers at most once: a message routed to the gone node's region before the coordinator
            // saw it go is lost, so the moved VM is pinged until it answers (not counted as an access).
            String ranOn = ping(to, orphans.get(i));
            if (sc.driver() == VmsSettings.Driver.PER_NODE) {
                // Usually the ping placed the VM on the node that sent it. But Akka's coordinator re-allocates a
                // shard itself once its hand-off is done (or its region is gone), on the region with the fewest
                // shards: the VM is then driven from where it runs, so its accesses stay local.
                for (ClusterNode n : takers) {
                    if (n.hostPort().equals(ranOn)) {
                        to = n;
                    }
                }
            }
            drives.get(to).add(orphans.get(i));
        }
        phase(drives, ops);
    }

    /** Every driving node's rounds, in parallel, until {@code until} accesses in all are done. */
    private void phase(Map<ClusterNode, List<Integer>> drives, long until) {
        long started = System.nanoTime();
        List<CompletableFuture<Void>> drivers = new ArrayList<>();
        for (Map.Entry<ClusterNode, List<Integer>> e : drives.entrySet()) {
            if (e.getValue().isEmpty()) {
                continue;
            }
            long seed = run.seed() * 31 + drivers.size() + 7 * t.done.get();
            drivers.add(CompletableFuture.runAsync(() -> {
                SplittableRandom random = new SplittableRandom(seed);
                while (t.done.get() < until) {
                    round(e.getKey(), e.getValue(), random);
                }
            }, threads));
        }
        CompletableFuture.allOf(drivers.toArray(new CompletableFuture[0])).join();
        t.drivingNanos.addAndGet(System.nanoTime() - started);
    }

    private void round(ClusterNode from, List<Integer> vms, SplittableRandom random) {
        String here = from.hostPort();
        List<CompletionStage<VmEntity.Touched>> asked = new ArrayList<>(vms.size());
        long[][] what = new long[vms.size()][];
        for (int i = 0; i < vms.size(); i++) {
            long gfn = random.nextInt(sc.guestPages());
            int word = random.nextInt(WORDS);
            boolean write = random.nextInt(10) < 3;
            long value = random.nextLong();
            what[i] = new long[] {gfn, word, write ? 1 : 0, value};
            asked.add(VmSharding.vm(from, id(vms.get(i))).ask(
                    replyTo -> new VmEntity.Touch(gfn, word, write, value, replyTo), ASK));
        }
        for (int i = 0; i < vms.size(); i++) {
            t.done.incrementAndGet();
            VmModel model = models[vms.get(i)];
            long[] a = what[i];
            long key = a[0] * WORDS + a[1];
            VmEntity.Touched r;
            try {
                r = asked.get(i).toCompletableFuture().get(ASK.toSeconds() + 1, TimeUnit.SECONDS);
            } catch (Exception lost) {
                r = null;
            }
            if (r == null || r.error() != null) {
                t.lost.incrementAndGet();
                if (a[2] == 1) {
                    model.lostWrite(key);
                }
                continue;
            }
            t.ok.incrementAndGet();
            if (r.node().equals(here)) {
                t.local.incrementAndGet();
            }
            if (r.fault()) {
                t.faults.incrementAndGet();
            }
            t.perNode.merge(r.node(), 1L, Long::sum);
            if (model.ranOn(r.node(), sc.importedRam(), killed)) {
                t.moves.incrementAndGet();
            }
            if (a[2] == 1) {
                model.wrote(key, a[3]);
            } else if (!model.knows(key)) {
                t.unchecked.incrementAndGet();
            } else if (r.value() != model.expected(key)) {
                t.wrong.incrementAndGet();
                run.oracle().events().violation(Invariant.I1, -1, r.vm() + " on " + r.node() + " read " + r.value()
                        + " at gfn " + a[0] + " word " + a[1] + ", last written " + model.expected(key));
            }
        }
    }

    /** Reads word 0 of page 0 of a VM from {@code from} until it answers; records where it runs now. */
    /** Asks {@code vm} from {@code from} until it answers; returns the node it runs on ({@code host:port}). */
    private String ping(ClusterNode from, int vm) throws Exception {
        long deadline = System.nanoTime() + REMOVAL.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                VmEntity.Touched r = VmSharding.vm(from, id(vm)).<VmEntity.Touched>ask(
                        replyTo -> new VmEntity.Touch(0, 0, false, 0, replyTo), Duration.ofSeconds(3))
                        .toCompletableFuture().get(4, TimeUnit.SECONDS);
                if (r.error() == null) {
                    if (models[vm].ranOn(r.node(), sc.importedRam(), killed)) {
                        t.moves.incrementAndGet();
                    }
                    return r.node();
                }
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException again) {
                // lost on the way: ask again
            }
        }
        throw new java.util.concurrent.TimeoutException(id(vm) + " did not answer within " + REMOVAL);
    }
}
