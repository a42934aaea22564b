package io.shadowmmu.emulator.gru;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.config.Variant;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.scenario.GruResult;
import io.shadowmmu.hostmm.host.HostContext;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * {@code gru}: the gru-device module's scenario (user processes on GRU-style devices while a host stressor
 * mprotects, munmaps, discards and forks their memory; settings {@code gru.*}) run from the command line.
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

    /**
     * REGISTER_UNQUIESCED needs devices registering inside a RANGE invalidation held open: context churn and a
     * slow-ack subscriber give it that (D54), so this scenario runs it; the other variants it cannot exhibit stay
     * refused.
     */
    @Override
    public String cannotExhibit(Variant variant) {
        return variant == Variant.REGISTER_UNQUIESCED ? null : Scenario.super.cannotExhibit(variant);
    }

    @Override
    public ScenarioResult run(ScenarioRun given) throws Exception {
        RegisterUnquiescedSetup.Prepared prepared = RegisterUnquiescedSetup.prepare(given);
        ScenarioRun run = prepared.run();
        GruSettings gru = GruSettings.read(run.settings());
        long ops = run.opsOr(run.settings().reader().section("gru-scenario").longAtLeast("default-ops", 1));
        HostContext host = HostContext.create(run.settings(), run.oracle().events());
        CompletableFuture<GruResult> outcome = new CompletableFuture<>();
        io.shadowmmu.gru.scenario.GruScenario.Params params =
                new io.shadowmmu.gru.scenario.GruScenario.Params(gru, ops, run.seed(), true);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
            ActorRef<GruResult> done = ctx.spawn(Behaviors.receive(GruResult.class).onAnyMessage(r -> {
                outcome.complete(r);
                return Behaviors.stopped();
            }).build(), "result");
            ctx.spawn(io.shadowmmu.gru.scenario.GruScenario.create(host, params, done), "gru");
            return Behaviors.empty();
        }), "gru", EmbeddedSystem.config(run.settings()));
        GruResult g;
        try {
            g = Awaiting.outcome(run, outcome, () -> 0, 0, () -> Awaiting.frames(run, host.memory().usedFrames()));
        } finally {
            system.terminate();
        }
        run.oracle().finish(g.audit());
        ScenarioResult r = new ScenarioResult().put("ops", ops);
        if (prepared.line() != null) {
            r.line(prepared.line());
        }
        r.put("notifier.strategy", run.settings().notifier().strategy().name());
        report(r, g, gru);
        r.put("host.frames.leaked", g.audit().leaked());
        return r;
    }

    private static String ordinal(int n) {
        int tens = n % 100;
        String suffix = tens >= 11 && tens <= 13 ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd"
                : "th";
        return n + suffix;
    }

    /** The device counters under {@code gru.} and the summary lines of a GRU run. */
    public static void report(ScenarioResult r, GruResult g, GruSettings gru) {
        for (Map.Entry<String, Object> e : g.fields().entrySet()) {
            r.put("gru." + e.getKey(), e.getValue());
        }
        r.line(String.format("%,d device instructions by %d processes on %d devices: TLB %,d hits / %,d misses,"
                + " %,d drop-ins, %,d drop-in failures (host faults %,d, SIGSEGV %,d)", g.instructions(),
                g.processes(), g.devices(), g.hits(), g.misses(), g.dropins(), g.dropinFailures(), g.hostFaults(),
                g.segvs()));
        r.line(String.format("flushes %,d (%,d entries), flush-handle waits %,d (%,d acks after their handler),"
                + " context steals %,d%s", g.flushes(), g.entriesFlushed(), g.handleWaits(), g.acksDeferred(),
                g.contextSteals(), g.audit() == null ? "" : "; frames audit " + (g.audit().clean() ? "clean" : "FAILED")));
        if (g.checkedReads() > 0) {
            r.line(String.format("golden copies (I1): %,d device reads checked, %,d stale", g.checkedReads(),
                    g.staleReads()));
        }
        if (gru.churns() || !gru.slowAck().isZero()) {
            String when = !gru.churns() ? "off" : gru.contextChurn() == 1 ? "at every wait for an invalidation"
                    : "at every " + ordinal(gru.contextChurn()) + " wait for an invalidation";
            r.line(String.format("context churn %s: %,d mm bindings re-created, %,d registrations (%,d inside an"
                    + " invalidation in flight); slow ack %d ms held %,d invalidations open", when, g.churns(),
                    g.registrations(), g.registrationsInFlight(), gru.slowAck().toMillis(), g.slowAcks()));
        }
    }
}
