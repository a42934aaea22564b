package io.shadowmmu.emulator.strategies;

import akka.actor.typed.ActorSystem;
import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.DeliveryStrategyKind;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.churn.SecondaryMmu;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.hostmm.host.HostContext;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * {@code strategies}: the same munmap workload once per delivery strategy, side by side: notifications per munmap,
 * pages per notification, munmap time (it waits for every ack), secondaries' fault retries and ack latency.
 */
public final class StrategiesScenario implements Scenario {

    @Override
    public String name() {
        return "strategies";
    }

    @Override
    public String description() {
        return "the same munmap workload once per delivery strategy, compared side by side (--ops = rounds)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        ConfigReader r = run.settings().reader().section("strategies");
        int pages = r.intBetween("region-pages", 1, 1 << 20);
        int rounds = (int) Math.min(100_000, run.opsOr(r.intBetween("default-rounds", 1, 100_000)));
        ScenarioResult result = new ScenarioResult().put("ops", rounds).put("pagesPerMunmap", pages);
        result.put("strategies", measure(run, pages, rounds, result));
        return result;
    }

    /**
     * Runs the workload once per strategy, {@code rounds} munmaps of {@code pages} pages each, on a fresh host
     * each time (under the run's oracle); adds a table to {@code result}'s summary and returns one row a strategy.
     */
    public static List<Map<String, Object>> measure(ScenarioRun run, int pages, int rounds, ScenarioResult result)
            throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        result.line(String.format("%-12s %10s %12s %9s %10s %12s %9s %11s %11s", "strategy", "starts/op",
                "pages/start", "msgs/page", "flushes", "munmap p50", "retries", "ack p50 us", "ack p99 us"));
        DeliveryStrategyKind[] kinds = DeliveryStrategyKind.values();
        for (int k = 0; k < kinds.length; k++) {
            DeliveryStrategyKind kind = kinds[k];
            Settings settings = run.settings().withNotifier(run.settings().notifier().withStrategy(kind));
            HostContext host = HostContext.create(settings, run.oracle().events());
            CompletableFuture<StrategyRound.Outcome> outcome = new CompletableFuture<>();
            ActorSystem<StrategyRound.Command> system = ActorSystem.create(
                    StrategyRound.create(host, pages, rounds, outcome), "strategies-" + kind.name().toLowerCase(),
                    EmbeddedSystem.config(settings));
            StrategyRound.Outcome o;
            int done = k;
            try {
                o = Awaiting.outcome(run, outcome, () -> done, kinds.length,
                        () -> kind + ": " + Awaiting.frames(run, host.memory().usedFrames()));
            } finally {
                system.terminate();
            }
            run.oracle().finish(o.audit());
            long subscribers = o.secondaries().size();
            // Starts = acks (each start is acknowledged once); the first round's registrations see no start.
            double startsPerOp = (double) o.stats().notifier().acks() / (rounds * (double) subscribers);
            double pagesPerStart = startsPerOp == 0 ? 0 : pages / startsPerOp;
            long retries = 0;
            long flushes = 0;
            for (SecondaryMmu.Stats s : o.secondaries()) {
                retries += s.retries();
                flushes += s.invalidations(); // one flush of the secondary per start it handled
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("strategy", kind.name());
            row.put("messages", o.stats().notifier().messages());
            row.put("pagesInvalidated", o.stats().notifier().ptesCleared());
            row.put("messagesPerInvalidatedPage", o.stats().notifier().ptesCleared() == 0 ? 0.0
                    : (double) o.stats().notifier().messages() / o.stats().notifier().ptesCleared());
            row.put("startsPerMunmap", startsPerOp);
            row.put("pagesPerStart", pagesPerStart);
            row.put("secondaryFlushes", flushes);
            row.put("munmapMicrosP50", o.munmapMicros().getValueAtPercentile(50));
            row.put("munmapMicrosP99", o.munmapMicros().getValueAtPercentile(99));
            row.put("secondaryFaultRetries", retries);
            row.put("ackLatencyMicrosP50", o.stats().ackLatency().p50Micros());
            row.put("ackLatencyMicrosP99", o.stats().ackLatency().p99Micros());
            row.put("fenced", o.stats().notifier().fences());
            row.put("leaked", o.audit().leaked());
            rows.add(row);
            result.line(String.format("%-12s %10.1f %12.1f %9.3f %10d %9d us %9d %11d %11d", kind, startsPerOp,
                    pagesPerStart, (double) row.get("messagesPerInvalidatedPage"), flushes,
                    o.munmapMicros().getValueAtPercentile(50), retries, o.stats().ackLatency().p50Micros(),
                    o.stats().ackLatency().p99Micros()));
        }
        return rows;
    }
}
