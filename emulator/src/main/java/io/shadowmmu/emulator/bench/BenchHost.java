package io.shadowmmu.emulator.bench;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.scenario.EmbeddedSystem;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;

import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The host the actor benchmarks run on: one actor system (the scenarios' config, 1 ms scheduler tick, default
 * dispatcher for everybody, limits included), one host with the no-op event sink (speed runs carry no oracle), GATHER
 * delivery and reclaim off (no daemon competes for the two cores).
 */
public final class BenchHost implements AutoCloseable {
    private final ActorSystem<Void> system;
    private final HostContext host;
    private final ActorRef<HostCommand> hostActor;
    private final AtomicInteger names = new AtomicInteger();
    /** Sends the delayed acknowledgements of sleeping bench subscribers (see {@link BenchSubscriber}). */
    private final ScheduledExecutorService ackTimer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "bench-ack-timer");
        t.setDaemon(true);
        return t;
    });

    public BenchHost() {
        Settings settings = Settings.withOverrides(Map.of(
                "host.memory", "256m",
                "notifier.strategy", "GATHER",
                "reclaim.enabled", "off"));
        this.host = HostContext.create(settings, CoherenceEvents.NONE);
        this.system = ActorSystem.create(Behaviors.empty(), "bench", EmbeddedSystem.config(settings));
        this.hostActor = spawn(HostActor.create(host), "host");
    }

    public HostContext host() {
        return host;
    }

    public ActorRef<HostCommand> hostActor() {
        return hostActor;
    }

    public ScheduledExecutorService ackTimer() {
        return ackTimer;
    }

    /** A top-level actor with a unique name. */
    public <T> ActorRef<T> spawn(Behavior<T> behavior, String name) {
        return system.systemActorOf(behavior, name + "-" + names.incrementAndGet(), Props.empty());
    }

    @Override
    public void close() {
        ackTimer.shutdownNow();
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get();
        } catch (Exception e) {
            throw new IllegalStateException("the benchmark actor system did not terminate", e);
        }
    }
}
