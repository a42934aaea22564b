package io.shadowmmu.emulator.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.exporter.ExporterCounters;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.protocol.ToImporter;
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
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * {@code cluster}: three nodes (actor systems in one Akka Cluster on 127.0.0.1, split-brain resolver on) in this
 * JVM. Each node's processes export a segment; every node imports every other node's segments and accesses them
 * while the exporting processes churn. By default the importers map by ranges ({@code import-mode = copy}): a miss
 * fetches a block of pages into frames of the importing node, hits touch those copies with no message, and every
 * invalidation of the exporter's range reaches each importer, which writes back and acks (or is fenced);
 * {@code per-word} sends every 8-byte access to the exporter instead. One importer per node is now and then slow enough to be fenced and
 * re-attach; another always acks a little late, so invalidations queue behind it and are coalesced.
 * Each node has its own oracle (frames are per node); their verdicts are merged into the run's. Each word of a
 * segment has one writer (a node: {@link WordOwners}); every importer's driver checks its reads of the words it
 * wrote against its golden copy (I1), so a write lost on the way back to the exporter is caught.
 */
public final class ClusterScenario implements Scenario {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final long PAGE = 4096;

    @Override
    public String name() {
        return "cluster";
    }

    @Override
    public String description() {
        return "3 nodes on 127.0.0.1 import each other's memory (XPMEM style) under host churn; sleeping cross-node"
                + " invalidations, fencing; mapped by ranges or per word (--ops = accesses to imported memory)";
    }

    /** Its only secondaries are cross-node importers: the races it shows are theirs (no KVM, no device TLB here). */
    @Override
    public String cannotExhibit(Variant variant) {
        if (variant == Variant.NONE || variant == Variant.STALE_INFLIGHT_FAULT || variant == Variant.SKIP_WRITE_BACK) {
            return null;
        }
        return "scenario cluster cannot exhibit variant " + variant.name().toLowerCase(java.util.Locale.ROOT)
                + ": its secondaries are cross-node importers, which only exhibit stale_inflight_fault and"
                + " skip_write_back (run this variant with vm-tdp, vm-shadow or host-churn)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ClusterScenarioSettings sc = ClusterScenarioSettings.read(run.settings());
        ClusterSettings cs = ClusterSettings.read(run.settings()).withAckDeadline(sc.ackDeadline());
        Variant variant = run.settings().variant();
        if (variant == Variant.SKIP_WRITE_BACK && sc.importMode() != ClusterScenarioSettings.ImportMode.COPY) {
            // Per word nothing is copied, so nothing is written back: the broken run would look clean.
            throw run.settings().reader().section("cluster.scenario").fail("import-mode", "must be copy for"
                    + " variant skip_write_back (per word, importers hold no copies to write back)");
        }
        if (variant == Variant.STALE_INFLIGHT_FAULT && cs.faultReplyDelay().isZero()) {
            // The race needs a fault answer that spends a while on the wire.
            cs = cs.withFaultReplyDelay(Duration.ofMillis(2));
        }
        long ops = run.opsOr(sc.defaultOps());
        List<OracleSupport> oracles = new ArrayList<>();
        List<ClusterNode> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < sc.nodes(); i++) {
                OracleSupport o = i == 0 ? run.oracle() : OracleSupport.create(run.settings());
                oracles.add(o);
                // Three nodes share this JVM's cores with the workload: a patient failure detector, so a busy node
                // is not downed by the split-brain resolver mid-run.
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
            return drive(run, sc, cs, variant, ops, nodes, oracles);
        } finally {
            for (ClusterNode n : nodes) {
                n.close();
            }
            for (ClusterNode n : nodes) {
                n.system().getWhenTerminated().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }

    /** A segment exported by node {@code nodeIndex}, with the discards its churn makes (for the golden copies). */
    private record Exported(ClusterNode node, int nodeIndex, ActorRef<MmCommand> mm, long start, long segment,
                            Discards discards) {
    }

    private ScenarioResult drive(ScenarioRun run, ClusterScenarioSettings sc, ClusterSettings cs, Variant variant,
                                 long ops, List<ClusterNode> nodes, List<OracleSupport> oracles) throws Exception {
        // Every node's processes map, fill and export a segment.
        List<Exported> exports = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (int p = 0; p < sc.processesPerNode(); p++) {
                exports.add(export(nodes.get(i), i, "exporter-" + p, sc.segmentPages()));
            }
        }
        // Every node imports every other node's segments.
        AtomicLong opsLeft = new AtomicLong(ops);
        ImportDriver.Totals totals = new ImportDriver.Totals();
        List<ActorRef<ToImporter>> importers = new ArrayList<>();
        List<ClusterNode> importerNodes = new ArrayList<>();
        List<ImportDriver.Checking> checks = new ArrayList<>();
        int driverCount = 0;
        for (int ni = 0; ni < nodes.size(); ni++) {
            ClusterNode n = nodes.get(ni);
            int k = 0;
            for (Exported e : exports) {
                if (e.node() != n) {
                    // The node's first importer is slow now and then (fenced), its second always a little sleepy.
                    Duration ackDelay = k == 0 ? sc.slowAckDelay() : k == 1 ? sc.sleepyAckDelay() : Duration.ZERO;
                    int every = k == 0 ? sc.slowEvery() : 1;
                    k++;
                    ActorRef<ToImporter> imp = n.spawn(importer(sc, n, e, ackDelay, every, cs, variant),
                            "importer-" + importers.size());
                    checks.add(new ImportDriver.Checking(new WordOwners(nodes.size(), ni), e.discards(),
                            oracles.get(ni).events(), "driver of importer-" + importers.size() + " (node "
                            + n.hostPort() + ", segment " + e.segment() + ")"));
                    importers.add(imp);
                    importerNodes.add(n);
                    driverCount++;
                }
            }
        }
        for (int i = 0; i < importers.size(); i++) {
            ActorRef<ToImporter> imp = importers.get(i);
            ClusterNode n = importerNodes.get(i);
            until(() -> stats(n, imp).attached(), "importer " + imp.path() + " attached");
        }
        AtomicLong churnOps = new AtomicLong();
        CountDownLatch churnStopped = new CountDownLatch(exports.size() * sc.churnersPerProcess());
        List<ActorRef<ExportChurn.Command>> churners = new ArrayList<>();
        for (int i = 0; i < exports.size(); i++) {
            Exported e = exports.get(i);
            for (int c = 0; c < sc.churnersPerProcess(); c++) {
                churners.add(e.node().spawn(ExportChurn.create(e.mm(), e.start(), sc.segmentPages(),
                        sc.churnInterval(), run.seed() * 31 + i * 16L + c, churnOps, churnStopped,
                        new WordOwners(nodes.size(), e.nodeIndex()), e.discards()),
                        "churn-" + i + "-" + c));
            }
        }
        CountDownLatch driversDone = new CountDownLatch(driverCount);
        long started = System.nanoTime();
        for (int i = 0; i < importers.size(); i++) {
            importerNodes.get(i).spawn(ImportDriver.create(importers.get(i), sc.segmentPages() * PAGE, sc.window(),
                    sc.writeFraction(), run.seed() * 17 + i, opsLeft, totals, driversDone, checks.get(i)),
                    "driver-" + i);
        }
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try {
                driversDone.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Awaiting.outcome(run, done, () -> Math.min(ops, ops - Math.max(0, opsLeft.get())), ops,
                () -> String.format("fences %d  violations %d", fences(nodes), violations(oracles)));
        long elapsedNanos = System.nanoTime() - started;
        for (ActorRef<ExportChurn.Command> c : churners) {
            c.tell(ExportChurn.Stop.INSTANCE);
        }
        if (!churnStopped.await(STEP.toSeconds(), TimeUnit.SECONDS)) {
            throw new TimeoutException("host churn did not stop within " + STEP);
        }
        List<Importer.Stats> importerStats = new ArrayList<>();
        List<CompletableFuture<Void>> stopped = new ArrayList<>();
        for (int i = 0; i < importers.size(); i++) {
            importerStats.add(stats(importerNodes.get(i), importers.get(i)));
            stopped.add(whenStopped(importerNodes.get(i), importers.get(i), "detach-watch-" + i));
            importers.get(i).tell(Importer.Detach.INSTANCE);
        }
        // A detach unmaps the local copies, writes dirty pages back and deletes the copies' file: all done, on
        // every node, only once the importer stopped.
        CompletableFuture.allOf(stopped.toArray(new CompletableFuture[0])).get(STEP.toSeconds(), TimeUnit.SECONDS);
        // Quiescent point: nothing pending anywhere, then the exact audit of every node.
        List<HostCommand.AuditReport> audits = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            HostCommand.AuditReport audit = quiescentAudit(nodes.get(i));
            audits.add(audit);
            oracles.get(i).finish(audit);
        }
        mergeVerdicts(run.oracle(), oracles, nodes);
        return report(ops, sc, nodes, totals, importerStats, churnOps.get(), audits, elapsedNanos);
    }

    /** Copy: the segment mapped by ranges into frames of the importing node; per-word: a message per access. */
    private static akka.actor.typed.Behavior<ToImporter> importer(ClusterScenarioSettings sc, ClusterNode n,
                                                                  Exported e, Duration ackDelay, int every,
                                                                  ClusterSettings cs, Variant variant) {
        if (sc.importMode() == ClusterScenarioSettings.ImportMode.COPY) {
            return Importer.copying(e.node().exporter(), e.segment(),
                    new Importer.Copying(n.hostActor(), n.host().memory(), sc.blockPages()), ackDelay, every,
                    cs.reattachBackoff(), variant);
        }
        return Importer.create(e.node().exporter(), e.segment(), ackDelay, every, cs.reattachBackoff(), variant);
    }

    private static Exported export(ClusterNode n, int nodeIndex, String name, int pages) throws Exception {
        HostCommand.ProcessSpawned p = AskPattern.<HostCommand, HostCommand.ProcessSpawned>ask(n.hostActor(),
                r -> new HostCommand.SpawnProcess(name, r), STEP, n.system().scheduler()).toCompletableFuture().get();
        MmResult mapped = AskPattern.<MmCommand, MmResult>ask(p.process(),
                r -> MmCommand.Mmap.anonymous(pages * PAGE, Protection.READ_WRITE, r), STEP,
                n.system().scheduler()).toCompletableFuture().get();
        long start = ((MmResult.Done) mapped).value();
        for (int page = 0; page < pages; page++) {
            long va = start + page * PAGE;
            AskPattern.<MmCommand, MmResult>ask(p.process(), r -> new MmCommand.Access(va, true, va, r), STEP,
                    n.system().scheduler()).toCompletableFuture().get();
        }
        Exporter.Exported e = AskPattern.<io.shadowmmu.cluster.protocol.ToExporter, Exporter.Exported>ask(
                n.exporter(), r -> new Exporter.Export(p.process(), p.mm(), start, pages * PAGE, true, r), STEP,
                n.system().scheduler()).toCompletableFuture().get();
        if (e.error() != null) {
            throw new IllegalStateException(e.error());
        }
        return new Exported(n, nodeIndex, p.process(), start, e.segment(), new Discards(pages));
    }

    private static Importer.Stats stats(ClusterNode n, ActorRef<ToImporter> imp) {
        try {
            return AskPattern.<ToImporter, Importer.Stats>ask(imp, Importer.GetStats::new, STEP,
                    n.system().scheduler()).toCompletableFuture().get();
        } catch (Exception e) {
            throw new IllegalStateException("importer " + imp.path() + " did not report", e);
        }
    }

    private static HostCommand.HostStats hostStats(ClusterNode n) {
        try {
            return AskPattern.<HostCommand, HostCommand.HostStats>ask(n.hostActor(), HostCommand.GetHostStats::new,
                    STEP, n.system().scheduler()).toCompletableFuture().get();
        } catch (Exception e) {
            throw new IllegalStateException("host of " + n.hostPort() + " did not report", e);
        }
    }

    /** Polls on the CLI thread (never an actor's) until the condition holds. */
    /** Completes when {@code ref} has stopped, watched by a small actor on {@code node}. */
    private static CompletableFuture<Void> whenStopped(ClusterNode node, ActorRef<?> ref, String name) {
        CompletableFuture<Void> gone = new CompletableFuture<>();
        node.spawn(Behaviors.<Object>setup(ctx -> {
            ctx.watch(ref);
            return Behaviors.receive(Object.class).onSignal(Terminated.class, t -> {
                gone.complete(null);
                return Behaviors.stopped();
            }).build();
        }), name);
        return gone;
    }

    /**
     * The exact audit, at a quiescent point: no pending frees. A write-back still on its way over the network can
     * start one more change after that point, and an audit that runs beside it sees a frame between its holders;
     * so a node whose audit found problems is audited again (at most three times) once it is quiescent again, and
     * the last audit counts: a real leak or miscount shows in every one.
     */
    private static HostCommand.AuditReport quiescentAudit(ClusterNode n) throws Exception {
        HostCommand.AuditReport audit = null;
        for (int attempt = 0; attempt < 3 && (audit == null || !audit.clean()); attempt++) {
            until(() -> hostStats(n).framesPendingFree() == 0, "node " + n.hostPort() + " has no pending frees");
            audit = AskPattern.<HostCommand, HostCommand.AuditReport>ask(n.hostActor(), HostCommand.Audit::new, STEP,
                    n.system().scheduler()).toCompletableFuture().get();
        }
        return audit;
    }

    private static void until(BooleanSupplier condition, String what) throws TimeoutException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("waited " + STEP.toSeconds() + " s for: " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
        }
    }

    private static long fences(List<ClusterNode> nodes) {
        long f = 0;
        for (ClusterNode n : nodes) {
            f += n.counters().fences();
        }
        return f;
    }

    private static long violations(List<OracleSupport> oracles) {
        long v = 0;
        for (OracleSupport o : oracles) {
            v += o.total();
        }
        return v;
    }

    /** The run's verdict is node 0's oracle: every other node's violations are reported into it, named. */
    private static void mergeVerdicts(OracleSupport main, List<OracleSupport> oracles, List<ClusterNode> nodes) {
        for (int i = 1; i < oracles.size(); i++) {
            if (oracles.get(i).oracle() == null) {
                continue;
            }
            for (Violation v : oracles.get(i).oracle().violations()) {
                main.events().violation(v.invariant(), -1, "node " + nodes.get(i).hostPort() + ": "
                        + v.describe());
            }
        }
    }

    private static ScenarioResult report(long ops, ClusterScenarioSettings sc, List<ClusterNode> nodes,
                                         ImportDriver.Totals totals, List<Importer.Stats> importers, long churnOps,
                                         List<HostCommand.AuditReport> audits, long elapsedNanos) {
        Histogram latency = new Histogram(60_000_000L, 3);
        long sent = 0;
        long batches = 0;
        long coalesced = 0;
        long fencedDeadline = 0;
        long fencedNodeLoss = 0;
        long stale = 0;
        long faults = 0;
        long faultRetries = 0;
        long maxInFlight = 0;
        for (ClusterNode n : nodes) {
            ExporterCounters c = n.counters();
            latency.add(c.ackLatencyMicros());
            sent += c.invalidationsSent.get();
            batches += c.batches.get();
            coalesced += c.coalesced.get();
            fencedDeadline += c.fencedByDeadline.get();
            fencedNodeLoss += c.fencedByNodeLoss.get();
            stale += c.staleAccesses.get();
            faults += c.faults.get();
            faultRetries += c.faultRetries.get();
            maxInFlight = Math.max(maxInFlight, c.maxInFlight.get());
        }
        long staleReplies = 0;
        long attaches = 0;
        long hits = 0;
        long importerFaults = 0;
        long importerWrittenBack = 0;
        for (Importer.Stats s : importers) {
            staleReplies += s.staleReplies();
            attaches += s.attaches();
            hits += s.hits();
            importerFaults += s.faults();
            importerWrittenBack += s.writtenBack();
        }
        long pagesCopied = 0;
        long writtenBack = 0;
        long refusedWriteBacks = 0;
        long remoteAccesses = 0;
        for (ClusterNode n : nodes) {
            ExporterCounters c = n.counters();
            pagesCopied += c.pagesCopied.get();
            writtenBack += c.writtenBack.get();
            refusedWriteBacks += c.refusedWriteBacks.get();
            remoteAccesses += c.accesses.get();
        }
        // A miss is an access that had to wait for a fault (per-word) or a range fetch (copy): one request each,
        // whatever number of accesses queued behind it.
        double hitRatio = totals.ok.get() == 0 ? 0 : Math.max(0, 1 - (double) importerFaults / totals.ok.get());
        boolean copy = sc.importMode() == ClusterScenarioSettings.ImportMode.COPY;
        long leaked = 0;
        boolean auditsClean = true;
        for (HostCommand.AuditReport a : audits) {
            leaked += a.leaked();
            auditsClean &= a.clean();
        }
        double seconds = elapsedNanos / 1e9;
        ScenarioResult r = new ScenarioResult()
                .put("ops", ops)
                .put("nodes", nodes.size())
                .put("importers", importers.size())
                .put("accesses.ok", totals.ok.get())
                .put("accesses.refused", totals.refused.get())
                .put("accesses.refusedDetached", totals.refusedDetached.get())
                .put("accesses.refusedDenied", totals.refused.get() - totals.refusedDetached.get())
                .put("accesses.lost", totals.lost.get())
                .put("accesses.writes", totals.writes.get())
                .put("accesses.checkedReads", totals.checkedReads.get())
                .put("accesses.staleReads", totals.staleReads.get())
                .put("accesses.perSecond", Math.round(ops / Math.max(seconds, 1e-9)))
                .put("importMode", copy ? "copy" : "per-word")
                .put("importer.hits", hits)
                .put("importer.requests", importerFaults)
                .put("importer.hitRatio", Math.round(hitRatio * 10_000) / 10_000.0)
                .put("importer.pagesWrittenBack", importerWrittenBack)
                .put("exporter.remoteAccesses", remoteAccesses)
                .put("exporter.pagesCopied", pagesCopied)
                .put("exporter.pagesWrittenBack", writtenBack)
                .put("exporter.refusedWriteBacks", refusedWriteBacks)
                .put("importer.faults", faults)
                .put("importer.staleFaultReplies", staleReplies)
                .put("importer.attaches", attaches)
                .put("exporter.faultRetries", faultRetries)
                .put("exporter.staleAccesses", stale)
                .put("invalidation.batches", batches)
                .put("invalidation.messages", sent)
                .put("invalidation.coalescedBatches", coalesced)
                .put("invalidation.maxInFlightPerImporter", maxInFlight)
                .put("invalidation.ackLatencyMicros.count", latency.getTotalCount())
                .put("invalidation.ackLatencyMicros.p50", latency.getValueAtPercentile(50))
                .put("invalidation.ackLatencyMicros.p99", latency.getValueAtPercentile(99))
                .put("invalidation.ackLatencyMicros.max", latency.getMaxValue())
                .put("fences.total", fencedDeadline + fencedNodeLoss)
                .put("fences.deadline", fencedDeadline)
                .put("fences.nodeLoss", fencedNodeLoss)
                .put("churn.operations", churnOps)
                .put("frames.leaked", leaked)
                .put("cluster.ackDeadlineMs", sc.ackDeadline().toMillis())
                .put("cluster.slowAckDelayMs", sc.slowAckDelay().toMillis())
                .put("cluster.slowEvery", sc.slowEvery());
        r.line(String.format("%d nodes, %d importers: %,d accesses to imported memory (%,d ok, %,d refused: %,d while fenced or"
                        + " detached, %,d denied, e.g. writes to write-protected pages; %,d lost) in %.1f s",
                nodes.size(), importers.size(), ops, totals.ok.get(), totals.refused.get(),
                totals.refusedDetached.get(), totals.refused.get() - totals.refusedDetached.get(), totals.lost.get(),
                seconds));
        r.line(String.format("golden copies (I1): %,d reads of words the importers wrote checked, %,d stale",
                totals.checkedReads.get(), totals.staleReads.get()));
        r.line(copy ? String.format("mapped by ranges (blocks of %d pages): %,d range fetches, %,d pages copied,"
                        + " %,d written back (%,d refused after a fence), hit ratio %.4f, %,d remote word accesses;"
                        + " %,d accesses/s", sc.blockPages(), importerFaults, pagesCopied, writtenBack,
                        refusedWriteBacks, hitRatio, remoteAccesses, Math.round(ops / Math.max(seconds, 1e-9)))
                : String.format("per-word: %,d remote word accesses, %,d faults, hit ratio %.4f; %,d accesses/s",
                        remoteAccesses, importerFaults, hitRatio, Math.round(ops / Math.max(seconds, 1e-9))));
        r.line(String.format("cross-node invalidations: %,d batches in %,d messages (%,d coalesced, at most %d in"
                        + " flight per importer); ack latency p50 %,d us, p99 %,d us", batches, sent, coalesced,
                maxInFlight, latency.getValueAtPercentile(50), latency.getValueAtPercentile(99)));
        r.line(String.format("faults across nodes: %,d (%,d stale answers re-asked); fences: %d by deadline, %d by"
                + " node loss; %,d host churn operations", faults, staleReplies, fencedDeadline, fencedNodeLoss,
                churnOps));
        r.line(String.format("frames: %d leaked, audits %s", leaked, auditsClean ? "clean" : "FAILED"));
        return r;
    }
}
