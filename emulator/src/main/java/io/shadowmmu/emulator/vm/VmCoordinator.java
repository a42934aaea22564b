package io.shadowmmu.emulator.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.kvm.KvmStats;
import io.shadowmmu.scenario.ScenarioBuilder;
import io.shadowmmu.scenario.ScenarioOutcome;
import io.shadowmmu.scenario.VmHostStressor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;

/**
 * A VM run as a plan: how many VMs, their paging, their guest processes and workloads, whether a host stressor runs
 * next to each. The scenario module's {@link ScenarioBuilder} assembles and runs it (a host, one VMM process per VM
 * with guest RAM mapped, a GuestVm with its KvmMmu, the stressors; at the end the counters, every VMM exited and
 * the host's frame audit).
 */
final class VmCoordinator {

    interface Command {
    }

    /**
     * @param workloads  makes the workload of process {@code p} of VM {@code v}
     * @param stress     run a host stressor next to each VM
     */
    record Plan(int vms, int processesPerVm, boolean tdp, boolean mixed,
                BiFunction<Integer, Integer, Workload> workloads, List<GuestVma> vmas, boolean stress,
                VmParams params) {
        /** Paging mode of VM {@code i}: with {@code mixed}, odd VMs use the other mode. */
        boolean tdpFor(int i) {
            return mixed && i % 2 == 1 ? !tdp : tdp;
        }

        /** The VMs (named vm0, vm1, ...), their processes (p0, p1, ...) and the stressors, onto a builder. */
        ScenarioBuilder addTo(ScenarioBuilder b) {
            for (int i = 0; i < vms; i++) {
                int vm = i;
                b.vm("vm" + i, v -> {
                    v.paging(tdpFor(vm));
                    if (params.guestRam() == GuestRam.SHARED_FILE) {
                        v.sharedFileRam();
                    }
                    for (int p = 0; p < processesPerVm; p++) {
                        int proc = p;
                        v.process("p" + p, vmas, seed -> workloads.apply(vm, proc));
                    }
                });
            }
            if (stress) {
                b.stressor(params::stressSpec);
            }
            return b.named("vms");
        }
    }

    /** @param runNanos from the moment every guest process had started until the last VM finished its workload */
    record Outcome(List<VmStats> vms, List<KvmStats> kvms, List<HostStressor.Done> stressors, List<MmStats> vmms,
                   HostCommand.AuditReport audit, PressureCounters.Snapshot pressure, String failure,
                   long runNanos) {

        static Outcome of(ScenarioOutcome o) {
            List<HostStressor.Done> stressors = new ArrayList<>();
            for (VmHostStressor.Done d : o.stressors()) {
                stressors.add(HostStressor.Done.of(d));
            }
            return new Outcome(o.vms(), o.kvms(), stressors, o.vmms(), o.audit(), o.pressure(), o.failure(),
                    o.runNanos());
        }
    }

    private VmCoordinator() {
    }

    /** The run as an actor on {@code host} (which it spawns and audits): completes {@code outcome} at the end. */
    static Behavior<Command> create(HostContext host, Plan plan, LiveVms live, CompletableFuture<Outcome> outcome) {
        return create(host, null, plan, live, outcome);
    }

    /**
     * With {@code sharedHost}, the VMs' processes are spawned by a host actor that a larger run owns, and the
     * outcome carries no audit nor pressure counters: the owner takes them once every part of its run is done. The
     * actor stops once the outcome is complete, or when the run's guardian stopped without one (a failure).
     */
    static Behavior<Command> create(HostContext host, ActorRef<HostCommand> sharedHost, Plan plan, LiveVms live,
                                    CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> {
            ScenarioBuilder b = plan.addTo(ScenarioBuilder.from(host.settings()).onHost(host)
                    .publishVmStats(live::publish));
            if (sharedHost != null) {
                b.sharingHostActor(sharedHost);
            }
            CompletableFuture<ScenarioOutcome> run = b.build().startIn(ctx);
            for (ActorRef<Void> child : ctx.getChildren()) {
                ctx.watch(child);
            }
            ctx.pipeToSelf(run, Finished::new);
            return Behaviors.receive(Command.class)
                    .onMessage(Finished.class, f -> {
                        outcome.complete(f.outcome() != null ? Outcome.of(f.outcome()) : failed(f.failure()));
                        return Behaviors.stopped();
                    })
                    .onSignal(Terminated.class, t -> {
                        if (!run.isDone()) {
                            outcome.complete(failed("the VM run stopped without a result (see the log)"));
                            return Behaviors.stopped();
                        }
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    private record Finished(ScenarioOutcome outcome, Throwable failure) implements Command {
    }

    private static Outcome failed(Object why) {
        return new Outcome(List.of(), List.of(), List.of(), List.of(), null, null, String.valueOf(why), 0);
    }
}
