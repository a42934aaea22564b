package io.shadowmmu.emulator.churn;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import io.shadowmmu.emulator.report.AckHistogram;
import io.shadowmmu.emulator.report.Telemetry;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmStats;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * {@code host-churn}: host processes that mmap, fault, fork, COW-write, mprotect, munmap, madvise and truncate at
 * random (seeded), each mm with an atomic and a slow secondary MMU, under the oracle; ends with every process exited
 * and an exact frame audit.
 */
public final class HostChurnScenario implements Scenario {

    @Override
    public String name() {
        return "host-churn";
    }

    @Override
    public String description() {
        return "host processes mmap/fault/fork/COW/mprotect/munmap/madvise/truncate at random, each with an atomic"
                + " and a slow secondary MMU (--ops = operations)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ChurnSettings churn = ChurnSettings.read(run.settings());
        long ops = run.opsOr(churn.defaultOps());
        HostContext host = HostContext.create(run.settings(), run.oracle().events());
        AtomicLong opsLeft = new AtomicLong(ops);
        AtomicLong peakUsed = new AtomicLong();
        CompletableFuture<ChurnCoordinator.Outcome> outcome = new CompletableFuture<>();
        Config akka = EmbeddedSystem.config(run.settings());
        ActorSystem<ChurnCoordinator.Command> system = ActorSystem.create(
                ChurnCoordinator.create(host, churn, opsLeft, peakUsed, outcome), "host-churn", akka);
        ChurnCoordinator.Outcome o;
        LongSupplier done = () -> Math.min(ops, ops - Math.max(0, opsLeft.get()));
        run.telemetry().rate(Telemetry.THROUGHPUT, "operations/s", done);
        run.telemetry().gauge(Telemetry.EVENTS, "frames in use", () -> host.memory().usedFrames());
        run.telemetry().gauge(Telemetry.EVENTS, "violations", () -> run.oracle().total());
        try {
            o = Awaiting.outcome(run, outcome, done, ops, () -> {
                long used = host.memory().usedFrames();
                peakUsed.accumulateAndGet(used, Math::max);
                return Awaiting.frames(run, used);
            });
        } finally {
            system.terminate();
        }
        run.oracle().finish(o.audit());
        return report(ops, churn, o);
    }

    private static ScenarioResult report(long ops, ChurnSettings churn, ChurnCoordinator.Outcome o) {
        long faults = 0;
        long invalidations = 0;
        long batches = 0;
        long messages = 0;
        long fenced = 0;
        long acks = 0;
        long cowCopies = 0;
        long processes = 0;
        long p99 = 0;
        long weightedP50 = 0;
        for (MmStats s : o.processes()) {
            faults += s.faults().total();
            cowCopies += s.faults().cowCopy();
            invalidations += s.notifier().invalidations();
            batches += s.notifier().batches();
            messages += s.notifier().messages();
            fenced += s.notifier().fences();
            acks += s.notifier().acks();
            p99 = Math.max(p99, s.ackLatency().p99Micros());
            weightedP50 += s.ackLatency().p50Micros() * s.ackLatency().count();
            processes++;
        }
        long secondaryFaults = 0;
        long secondaryRetries = 0;
        long secondaryHits = 0;
        for (SecondaryMmu.Stats s : o.secondaries()) {
            secondaryFaults += s.faults();
            secondaryRetries += s.retries();
            secondaryHits += s.hits();
        }
        long pendingFree = o.audit().pendingFree();
        ScenarioResult r = new ScenarioResult()
                .put("ops", ops)
                .put("processes", processes)
                .put("host.faults", faults)
                .put("host.cowCopies", cowCopies)
                .put("host.invalidations", invalidations)
                .put("host.batches", batches)
                .put("host.messages", messages)
                .put("host.acks", acks)
                .put("host.fenced", fenced)
                .put("host.ackLatencyMicros.p50", acks == 0 ? 0 : weightedP50 / acks)
                .put("host.ackLatencyMicros.p99Max", p99)
                .put("host.ackLatencyMicros.histogram", AckHistogram.rows(o.processes()))
                .put("host.frames.total", o.framesTotal())
                .put("host.frames.allocated", o.framesTotal() - o.framesFree())
                .put("host.frames.free", o.framesFree())
                .put("host.frames.pendingFree", pendingFree)
                .put("host.frames.peakUsed", o.peakUsed())
                .put("host.frames.leaked", o.audit().leaked())
                .put("secondaries.count", o.secondaries().size())
                .put("secondaries.faults", secondaryFaults)
                .put("secondaries.retries", secondaryRetries)
                .put("secondaries.hits", secondaryHits)
                .put("churn.slowAckDelayMs", churn.slowAckDelay().toMillis());
        r.line(String.format("%,d operations over %d processes (%d secondaries)", ops, processes,
                o.secondaries().size()));
        r.line(String.format("host: %,d faults, %,d invalidations in %,d batches, %,d notifier messages, %,d acks,"
                + " %,d fenced", faults, invalidations, batches, messages, acks, fenced));
        r.line(String.format("secondaries: %,d hits, %,d faults, %,d fault retries (sequence check)", secondaryHits,
                secondaryFaults, secondaryRetries));
        r.line(String.format("frames: %,d total, %,d free at the end, peak %,d in use, %d leaked, audit %s",
                o.framesTotal(), o.framesFree(), o.peakUsed(), o.audit().leaked(),
                o.audit().clean() ? "clean" : "FAILED"));
        return r;
    }
}
