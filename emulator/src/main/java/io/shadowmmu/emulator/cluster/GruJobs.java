package io.shadowmmu.emulator.cluster;

import io.shadowmmu.cluster.gru.GruEntity;
import io.shadowmmu.cluster.gru.GruSharding;
import io.shadowmmu.cluster.node.ClusterNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The cluster-vms scenario's GRU part: rounds of one job per device (with a flush sent right behind each job, so it
 * lands while the job runs), through sharding from one node, on a plain thread (never an actor's) until told to
 * stop. Stale reads are the devices' nodes' oracles' to report (each job checks its reads against its golden copy);
 * here they are only counted.
 */
final class GruJobs {
    private static final Duration STEP = Duration.ofSeconds(30);

    final AtomicLong jobs = new AtomicLong();
    final AtomicLong lost = new AtomicLong();
    final AtomicLong instructions = new AtomicLong();
    final AtomicLong checkedReads = new AtomicLong();
    final AtomicLong staleReads = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    final AtomicLong moves = new AtomicLong();
    final Map<String, String> placed = new ConcurrentHashMap<>();
    final Map<String, Long> perNode = new ConcurrentHashMap<>();

    /** One round over {@code ids} from {@code from}: every job and flush asked at once, then waited for. */
    void round(ClusterNode from, List<String> ids, long instructionsPerJob, long seed) {
        List<CompletionStage<GruEntity.Ran>> ran = new ArrayList<>();
        List<CompletionStage<GruEntity.Flushed>> flushed = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            var gru = GruSharding.gru(from, ids.get(i));
            long s = seed + i;
            ran.add(gru.ask(r -> new GruEntity.Run(instructionsPerJob, s, r), STEP));
            flushed.add(gru.ask(GruEntity.Flush::new, STEP));
        }
        for (int i = 0; i < ids.size(); i++) {
            GruEntity.Ran r;
            try {
                r = ran.get(i).toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
                if (flushed.get(i).toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS).flushed()) {
                    flushes.incrementAndGet();
                }
            } catch (Exception e) {
                lost.incrementAndGet();
                continue;
            }
            String before = placed.put(r.gru(), r.node());
            if (before != null && !before.equals(r.node())) {
                moves.incrementAndGet();
            }
            if (r.error() != null) {
                lost.incrementAndGet();
                continue;
            }
            jobs.incrementAndGet();
            perNode.merge(r.node(), 1L, Long::sum);
            instructions.addAndGet(r.instructions());
            checkedReads.addAndGet(r.checkedReads());
            staleReads.addAndGet(r.staleReads());
        }
    }

    /** Rounds until {@code stop} says true (asked between rounds). */
    void until(BooleanSupplier stop, ClusterNode from, List<String> ids, long instructionsPerJob, long seed) {
        long round = 0;
        while (!stop.getAsBoolean()) {
            round(from, ids, instructionsPerJob, seed + 1_000 * round++);
        }
    }

    static List<String> ids(int devices) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            ids.add("gru-" + i);
        }
        return ids;
    }
}
