package io.shadowmmu.emulator.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.emulator.scenario.RunBound;
import io.shadowmmu.gru.scenario.GruResult;
import io.shadowmmu.gru.scenario.GruScenario;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.pressure.PressureCounters;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The guardian of the mixed scenario: ONE host actor (with reclaim, migration and KSM as the settings say) shared by
 * a VM run ({@link VmCoordinator}: VMs, their VMM processes and host stressors) and a GRU run (gru-device's
 * scenario: user processes on GRU devices and their stressor). Once a second it asks the host for every process's
 * counters and publishes their sums. When both parts ended and every process exited, it audits the host's frames.
 */
final class MixedCoordinator extends AbstractBehavior<MixedCoordinator.Command> {

    interface Command {
    }

    /** Host-wide counters for the CLI, summed over every process seen (an exited one keeps its last count). */
    static final class LiveHost {
        final AtomicLong faults = new AtomicLong();
        final AtomicLong invalidations = new AtomicLong();
        final AtomicLong notifierMessages = new AtomicLong();
    }

    /**
     * @param processes the last counters of every host process seen during the run (the VMMs' final ones)
     */
    record Outcome(VmCoordinator.Outcome vms, GruResult gru, List<MmStats> processes,
                   HostCommand.AuditReport audit, PressureCounters.Snapshot pressure, String failure) {
    }

    private record VmsDone(VmCoordinator.Outcome outcome, Throwable failure) implements Command {
    }

    private record GruDone(GruResult result) implements Command {
    }

    private record Stats(HostCommand.HostStats stats) implements Command {
    }

    private record Audited(HostCommand.AuditReport report) implements Command {
    }

    private record Pressure(PressureCounters.Snapshot snapshot) implements Command {
    }

    /** @param answer the part's outcome, when it answers through a future rather than a message */
    private record PartStopped(String part, CompletableFuture<?> answer) implements Command {
    }

    private enum Tick implements Command {
        INSTANCE
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final RunBound bound;
    private final LiveHost live;
    private final CompletableFuture<Outcome> outcome;
    private final ActorRef<HostCommand> hostActor;
    private final Map<Long, MmStats> seen = new LinkedHashMap<>();
    private VmCoordinator.Outcome vms;
    private GruResult gru;
    private HostCommand.AuditReport audit;

    static Behavior<Command> create(HostContext host, VmCoordinator.Plan plan, LiveVms liveVms,
                                    GruScenario.Params gru, RunBound bound, LiveHost live,
                                    CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, Duration.ofSeconds(1));
            return new MixedCoordinator(ctx, host, plan, liveVms, gru, bound, live, outcome);
        }));
    }

    private MixedCoordinator(ActorContext<Command> context, HostContext host, VmCoordinator.Plan plan,
                             LiveVms liveVms, GruScenario.Params gru, RunBound bound, LiveHost live,
                             CompletableFuture<Outcome> outcome) {
        super(context);
        this.bound = bound;
        this.live = live;
        this.outcome = outcome;
        this.hostActor = context.spawn(HostActor.create(host), "host");
        CompletableFuture<VmCoordinator.Outcome> vmOutcome = new CompletableFuture<>();
        ActorRef<VmCoordinator.Command> vmPart = context.spawn(
                VmCoordinator.create(host, hostActor, plan, liveVms, vmOutcome), "vms");
        context.pipeToSelf(vmOutcome, VmsDone::new);
        // A part that fails stops without an answer: its death ends the run with the reason instead of a hang.
        context.watchWith(vmPart, new PartStopped("the VM part", vmOutcome));
        ActorRef<GruScenario.Command> gruPart = context.spawn(GruScenario.onHost(host, hostActor, gru,
                context.messageAdapter(GruResult.class, GruDone::new)), "gru");
        context.watchWith(gruPart, new PartStopped("the GRU part", null));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(VmsDone.class, this::onVmsDone)
                .onMessage(GruDone.class, g -> {
                    gru = g.result();
                    return maybeAudit();
                })
                .onMessage(PartStopped.class, this::onPartStopped)
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessage(Stats.class, this::onStats)
                .onMessage(Audited.class, a -> {
                    audit = a.report();
                    getContext().ask(PressureCounters.Snapshot.class, hostActor, TIMEOUT,
                            HostCommand.GetPressureStats::new, (p, f) -> new Pressure(p));
                    return this;
                })
                .onMessage(Pressure.class, p -> {
                    outcome.complete(new Outcome(vms, gru, processes(), audit, p.snapshot(), null));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> onVmsDone(VmsDone d) {
        if (d.outcome() == null || d.outcome().failure() != null) {
            outcome.complete(new Outcome(null, null, List.of(), null, null, d.outcome() == null
                    ? String.valueOf(d.failure()) : d.outcome().failure()));
            return Behaviors.stopped();
        }
        vms = d.outcome();
        for (MmStats s : vms.vmms()) {
            seen.put(s.mm(), s); // the VMMs' counters just before they exited
        }
        publish();
        bound.stop(); // the VMs reached their bound (time or accesses): the devices' processes stop as well
        return maybeAudit();
    }

    private Behavior<Command> onPartStopped(PartStopped p) {
        boolean answered = p.answer() != null ? p.answer().isDone() : gru != null;
        if (answered) {
            return this;
        }
        outcome.complete(new Outcome(vms, gru, processes(), null, null, p.part() + " stopped without a result"
                + " (see the log for its failure)"));
        return Behaviors.stopped();
    }

    private Behavior<Command> onTick() {
        getContext().ask(HostCommand.HostStats.class, hostActor, TIMEOUT, HostCommand.GetHostStats::new,
                (s, f) -> new Stats(s));
        return this;
    }

    private Behavior<Command> onStats(Stats s) {
        if (s.stats() != null) {
            for (MmStats p : s.stats().processes()) {
                MmStats before = seen.get(p.mm());
                // A reply may overtake a later one; counters only grow, so keep the larger snapshot.
                if (before == null || p.faults().total() + p.notifier().messages()
                        >= before.faults().total() + before.notifier().messages()) {
                    seen.put(p.mm(), p);
                }
            }
            publish();
        }
        return this;
    }

    private void publish() {
        long faults = 0;
        long invalidations = 0;
        long messages = 0;
        for (MmStats p : seen.values()) {
            faults += p.faults().total();
            invalidations += p.notifier().invalidations();
            messages += p.notifier().messages();
        }
        live.faults.set(faults);
        live.invalidations.set(invalidations);
        live.notifierMessages.set(messages);
    }

    private Behavior<Command> maybeAudit() {
        if (vms == null || gru == null) {
            return this;
        }
        // Every process of both parts has exited by now: the audit sees the whole host at rest.
        getContext().ask(HostCommand.AuditReport.class, hostActor, TIMEOUT, HostCommand.Audit::new,
                (r, f) -> new Audited(r));
        return this;
    }

    private List<MmStats> processes() {
        return new ArrayList<>(seen.values());
    }
}
