package io.shadowmmu.hostmm.pressure;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.SplittableRandom;

/**
 * Compaction-like page migration: every interval it picks a few exclusive anonymous pages at random (seeded) and
 * asks their mm to move each to a new frame, which unmaps it with a MIGRATE invalidation, copies once every
 * secondary dropped the old frame, and remaps. Faults on a page in migration wait for it.
 */
public final class Migrator extends AbstractBehavior<Migrator.Command> {

    public interface Command {
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private record Moved(MmCommand.PressureDone result) implements Command {
    }

    private final HostContext host;
    private final PhysicalMemory memory;
    private final PressureCounters counters;
    private final SplittableRandom random;
    private int inFlight;
    private final Pausing pausing = new Pausing("migration");

    public static Behavior<Command> create(HostContext host, PressureCounters counters) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, host.settings().pressure().migrationInterval());
            return new Migrator(ctx, host, counters);
        }));
    }

    private Migrator(ActorContext<Command> context, HostContext host, PressureCounters counters) {
        super(context);
        this.host = host;
        this.memory = host.memory();
        this.counters = counters;
        this.random = new SplittableRandom(host.settings().seed() ^ 0x6d696772L);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessage(Moved.class, this::onMoved)
                .onMessage(AuditPause.class, m -> {
                    pausing.on(m, inFlight == 0);
                    return this;
                })
                .build();
    }

    private Behavior<Command> onTick() {
        if (pausing.paused()) {
            return this;
        }
        int want = host.settings().pressure().migrationsPerInterval();
        // Sample a bounded number of frames: a near-empty host should not spin looking for candidates.
        for (int tries = 0; tries < want * 16 && inFlight < want; tries++) {
            int pfn = random.nextInt(memory.totalFrames());
            if (memory.refcount(pfn) != 1 || !memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON)
                    || memory.hasFlag(pfn, PhysicalMemory.FLAG_KSM)) {
                continue;
            }
            long[] mappings = host.rmap().mappings(pfn);
            if (mappings.length != 2) {
                continue;
            }
            ActorRef<MmCommand> mm = host.processes().get(mappings[0]);
            if (mm == null) {
                continue;
            }
            int generation = memory.generation(pfn);
            long va = mappings[1];
            inFlight++;
            getContext().ask(MmCommand.PressureDone.class, mm, Duration.ofSeconds(30),
                    replyTo -> new MmCommand.MigratePage(va, pfn, generation, replyTo),
                    (result, failure) -> new Moved(result));
        }
        return this;
    }

    private Behavior<Command> onMoved(Moved m) {
        inFlight--;
        pausing.settled(inFlight == 0);
        if (m.result() != null && m.result().done()) {
            counters.migrations.incrementAndGet();
        } else {
            counters.migrationFailures.incrementAndGet();
        }
        return this;
    }
}
