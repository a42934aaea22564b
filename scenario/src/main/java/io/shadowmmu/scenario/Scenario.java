package io.shadowmmu.scenario;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.scenario.oracle.CoherenceOracle;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A built scenario (see {@link ScenarioBuilder}): start it, wait for its {@link ScenarioOutcome}, read the oracle's
 * verdict, close it. Waiting happens on the caller's thread (a test or the CLI), never on an actor's.
 */
public final class Scenario implements AutoCloseable {
    private static final AtomicLong INSTANCES = new AtomicLong();

    private final String name;
    private final HostContext host;
    private final Assembly.Plan plan;
    private final CoherenceOracle oracle;
    private final ActorSystem<?> system;
    private final AtomicLong accessesDone;
    private final CompletableFuture<ScenarioOutcome> outcome = new CompletableFuture<>();
    private ActorSystem<?> embedded;
    private boolean started;
    private boolean finished;

    Scenario(String name, HostContext host, Assembly.Plan plan, CoherenceOracle oracle, ActorSystem<?> system,
             AtomicLong accessesDone) {
        this.accessesDone = accessesDone;
        this.name = name;
        this.host = host;
        this.plan = plan;
        this.oracle = oracle;
        this.system = system;
    }

    /**
     * Akka settings of an embedded scenario system: quiet logging, a 1 ms scheduler tick (ack deadlines, fence
     * polls and fault-path delays are milliseconds; Akka's default 10 ms tick would round each one up), and a
     * default dispatcher of {@code actors.dispatcher-threads} threads (one per core unless set) and
     * {@code actors.dispatcher-throughput}: with Akka's 8 threads on 2 cores the delivery and fault benchmarks spent
     * a large share in thread wake-ups (issue 16).
     */
    public static Config embeddedConfig(Settings settings) {
        io.shadowmmu.config.ConfigReader actors = settings.reader().section("actors");
        int threads = actors.intBetween("dispatcher-threads", 0, 1024);
        if (threads == 0) {
            threads = Runtime.getRuntime().availableProcessors();
        }
        int throughput = actors.intBetween("dispatcher-throughput", 1, 1_000_000);
        return ConfigFactory.parseString(String.join("\n",
                "akka.actor.default-dispatcher.fork-join-executor.parallelism-min = " + threads,
                "akka.actor.default-dispatcher.fork-join-executor.parallelism-max = " + threads,
                "akka.actor.default-dispatcher.throughput = " + throughput,
                "akka.loglevel = WARNING",
                "akka.log-dead-letters = off",
                "akka.log-dead-letters-during-shutdown = off",
                "akka.scheduler.tick-duration = 1ms",
                "akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off"))
                .withFallback(settings.root());
    }

    /** Sets everything up and runs it; the future completes when the host has audited its frames. Once only. */
    public synchronized CompletableFuture<ScenarioOutcome> start() {
        if (started) {
            return outcome;
        }
        started = true;
        Behavior<Assembly.Command> guardian = Assembly.create(host, plan, accessesDone, outcome);
        String actorName = name + "-" + INSTANCES.incrementAndGet();
        if (system != null) {
            system.systemActorOf(guardian, actorName, Props.empty());
        } else {
            embedded = ActorSystem.create(guardian, name, embeddedConfig(host.settings()));
        }
        return outcome;
    }

    /** As {@link #start()}, the scenario's guardian a child of {@code parent} (for a caller that is an actor). */
    public synchronized CompletableFuture<ScenarioOutcome> startIn(akka.actor.typed.javadsl.ActorContext<?> parent) {
        if (!started) {
            started = true;
            parent.spawn(Assembly.create(host, plan, accessesDone, outcome), name + "-" + INSTANCES.incrementAndGet());
        }
        return outcome;
    }

    /**
     * Starts (if not yet) and waits up to {@code limit} for the outcome; with the builder's own oracle, the end-of-run
     * checks follow (I5 from the audit, I4 for anything still open).
     *
     * @throws IllegalStateException when the run failed or did not finish in time
     */
    public ScenarioOutcome run(Duration limit) throws Exception {
        ScenarioOutcome o;
        try {
            o = start().get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("scenario " + name + " did not finish within " + limit
                    + " (guest accesses so far: " + accessesDone.get() + ")", e);
        }
        if (o.failure() != null) {
            throw new IllegalStateException("scenario " + name + " failed: " + o.failure());
        }
        finish(o);
        return o;
    }

    private synchronized void finish(ScenarioOutcome o) {
        if (oracle != null && !finished && o.audit() != null) {
            finished = true;
            oracle.audit(o.audit());
            oracle.checkLiveness(Duration.ZERO);
        }
    }

    /** Guest accesses so far over every VM (polled four times a second while running). */
    public long accessesDone() {
        return accessesDone.get();
    }

    public HostContext host() {
        return host;
    }

    public Settings settings() {
        return host.settings();
    }

    /** The builder's own oracle, or null when the caller passed its own sink. */
    public CoherenceOracle oracle() {
        return oracle;
    }

    /** Terminates the embedded actor system, if the scenario made one. */
    @Override
    public void close() {
        if (embedded != null) {
            embedded.terminate();
        }
    }
}
