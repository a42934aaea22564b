package io.shadowmmu.emulator.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.kvm.KvmStats;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;

/**
 * The guardian of a VM run: a host, one VMM process per VM with guest RAM mapped, a GuestVm (with its KvmMmu) on it,
 * guest processes with their workloads, an optional host stressor per VM; at the end the VMs' and KVMs' counters,
 * every VMM exited, and the host's frame audit.
 */
final class VmCoordinator extends AbstractBehavior<VmCoordinator.Command> {

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
    }

    /** @param runNanos from the moment every guest process had started until the last VM finished its workload */
    record Outcome(List<VmStats> vms, List<KvmStats> kvms, List<HostStressor.Done> stressors, List<MmStats> vmms,
                   HostCommand.AuditReport audit, PressureCounters.Snapshot pressure, String failure,
                   long runNanos) {
    }

    private record Spawned(int vm, HostCommand.ProcessSpawned process) implements Command {
    }

    private record RamMapped(int vm, MmResult result) implements Command {
    }

    private record ProcessStarted(int vm, GuestVm.Spawned spawned) implements Command {
    }

    private record VmFinished(int vm, VmStats stats) implements Command {
    }

    private record Polled(VmStats stats) implements Command {
    }

    private record StressDone(HostStressor.Done done) implements Command {
    }

    private record KvmCounters(KvmStats stats) implements Command {
    }

    private record VmmStats(MmStats stats) implements Command {
    }

    private record VmmExited(MmResult result) implements Command {
    }

    private record Audited(HostCommand.AuditReport report) implements Command {
    }

    private record Pressure(PressureCounters.Snapshot snapshot) implements Command {
    }

    private enum Poll implements Command {
        INSTANCE
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration RUN_TIMEOUT = Duration.ofHours(2);

    private final HostContext host;
    private final GuestSettings guest;
    private final Plan plan;
    private final AtomicLong accessesDone;
    private final CompletableFuture<Outcome> outcome;
    private final ActorRef<HostCommand> hostActor;
    private final ActorRef<MmCommand>[] vmms;
    private final long[] vmmIds;
    private final long[] hvaBases;
    private final List<ActorRef<GuestVm.Command>> vms = new ArrayList<>();
    private final List<ActorRef<HostStressor.Command>> stressors = new ArrayList<>();
    private final List<VmStats> finished = new ArrayList<>();
    private final List<KvmStats> kvms = new ArrayList<>();
    private final List<HostStressor.Done> stressDone = new ArrayList<>();
    private final List<MmStats> vmmStats = new ArrayList<>();
    private final long[] polled;
    private int started;
    private long runStarted;
    private long runNanos;
    private int pending;
    private HostCommand.AuditReport audit;

    @SuppressWarnings("unchecked")
    private VmCoordinator(ActorContext<Command> context, HostContext host, Plan plan, AtomicLong accessesDone,
                          CompletableFuture<Outcome> outcome) {
        super(context);
        this.host = host;
        this.guest = GuestSettings.from(host.settings());
        this.plan = plan;
        this.accessesDone = accessesDone;
        this.outcome = outcome;
        this.vmms = new ActorRef[plan.vms()];
        this.vmmIds = new long[plan.vms()];
        this.hvaBases = new long[plan.vms()];
        this.polled = new long[plan.vms()];
        this.hostActor = context.spawn(HostActor.create(host), "host");
        for (int i = 0; i < plan.vms(); i++) {
            int vm = i;
            context.ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                    r -> new HostCommand.SpawnProcess("vmm-" + vm, r), (p, f) -> new Spawned(vm, p));
        }
    }

    static Behavior<Command> create(HostContext host, Plan plan, AtomicLong accessesDone,
                                    CompletableFuture<Outcome> outcome) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Poll.INSTANCE, Duration.ofMillis(250));
            return new VmCoordinator(ctx, host, plan, accessesDone, outcome);
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Spawned.class, this::onSpawned)
                .onMessage(RamMapped.class, this::onRamMapped)
                .onMessage(ProcessStarted.class, this::onProcessStarted)
                .onMessage(VmFinished.class, this::onVmFinished)
                .onMessageEquals(Poll.INSTANCE, this::onPoll)
                .onMessage(Polled.class, p -> this)
                .onMessage(StressDone.class, s -> {
                    stressDone.add(s.done());
                    return maybeCollect();
                })
                .onMessage(KvmCounters.class, k -> {
                    if (k.stats() != null) {
                        kvms.add(k.stats());
                    }
                    return --pending == 0 ? exitVmms() : this;
                })
                .onMessage(VmmStats.class, s -> {
                    if (s.stats() != null) {
                        vmmStats.add(s.stats());
                    }
                    return this;
                })
                .onMessage(VmmExited.class, e -> --pending == 0 ? audit() : this)
                .onMessage(Audited.class, a -> {
                    audit = a.report();
                    getContext().ask(PressureCounters.Snapshot.class, hostActor, TIMEOUT,
                            HostCommand.GetPressureStats::new, (p, f) -> new Pressure(p));
                    return this;
                })
                .onMessage(Pressure.class, p -> {
                    outcome.complete(new Outcome(finished, kvms, stressDone, vmmStats, audit, p.snapshot(), null,
                            runNanos));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> onSpawned(Spawned s) {
        vmms[s.vm()] = s.process().process();
        vmmIds[s.vm()] = s.process().mm();
        getContext().ask(MmResult.class, vmms[s.vm()], TIMEOUT, r -> new MmCommand.Mmap(0, guest.memoryBytes(),
                Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0, r), (m, f) -> new RamMapped(s.vm(), m));
        return this;
    }

    private Behavior<Command> onRamMapped(RamMapped m) {
        if (m.result() == null || !m.result().ok()) {
            return fail("guest RAM of vm " + m.vm() + " could not be mapped: " + m.result());
        }
        int i = m.vm();
        hvaBases[i] = ((MmResult.Done) m.result()).value();
        ActorRef<GuestVm.Command> vm = getContext().spawn(GuestVm.onHost(new GuestVm.HostVm("vm" + i,
                AgentIds.next(), host, guest, vmms[i], vmmIds[i], hvaBases[i], plan.tdpFor(i), 0)), "vm" + i);
        while (vms.size() <= i) {
            vms.add(null);
        }
        vms.set(i, vm);
        for (int p = 0; p < plan.processesPerVm(); p++) {
            int proc = p;
            Workload w = plan.workloads().apply(i, p);
            getContext().ask(GuestVm.Spawned.class, vm, TIMEOUT,
                    r -> new GuestVm.Spawn("p" + proc, plan.vmas(), w, r), (sp, f) -> new ProcessStarted(i, sp));
        }
        return this;
    }

    private Behavior<Command> onProcessStarted(ProcessStarted p) {
        if (p.spawned() == null) {
            return fail("a guest process of vm " + p.vm() + " could not start");
        }
        if (++started < plan.vms() * plan.processesPerVm()) {
            return this;
        }
        runStarted = System.nanoTime();
        ActorRef<HostStressor.Done> stressReports = getContext().messageAdapter(HostStressor.Done.class,
                StressDone::new);
        for (int i = 0; i < plan.vms(); i++) {
            int vm = i;
            getContext().ask(VmStats.class, vms.get(i), RUN_TIMEOUT, GuestVm.Run::new,
                    (s, f) -> new VmFinished(vm, s));
            if (plan.stress()) {
                stressors.add(getContext().spawn(HostStressor.create(i, vms.get(i), vmms[i], hvaBases[i],
                        plan.params(), host.settings().seed() * 31 + i, stressReports), "stress-" + i));
            }
        }
        return this;
    }

    private Behavior<Command> onPoll() {
        for (int i = 0; i < vms.size(); i++) {
            ActorRef<GuestVm.Command> vm = vms.get(i);
            if (vm != null && i < polled.length) {
                int idx = i;
                getContext().ask(VmStats.class, vm, Duration.ofSeconds(5), GuestVm.GetStats::new, (s, f) -> {
                    if (s != null) {
                        polled[idx] = s.accesses();
                        long sum = 0;
                        for (long p : polled) {
                            sum += p;
                        }
                        accessesDone.set(sum);
                    }
                    return new Polled(s);
                });
            }
        }
        return this;
    }

    private Behavior<Command> onVmFinished(VmFinished f) {
        if (f.stats() == null) {
            return fail("vm " + f.vm() + " did not finish");
        }
        finished.add(f.stats());
        polled[f.vm()] = f.stats().accesses();
        if (f.vm() < stressors.size()) {
            stressors.get(f.vm()).tell(HostStressor.Stop.INSTANCE); // its VM is done: no more stress on it
        }
        return maybeCollect();
    }

    private Behavior<Command> maybeCollect() {
        if (finished.size() < plan.vms() || stressDone.size() < stressors.size()) {
            return this;
        }
        if (runNanos == 0) {
            runNanos = System.nanoTime() - runStarted;
        }
        pending = vms.size();
        for (ActorRef<GuestVm.Command> vm : vms) {
            getContext().ask(KvmStats.class, vm, TIMEOUT, GuestVm.GetKvmStats::new, (k, f) -> new KvmCounters(k));
        }
        return this;
    }

    private Behavior<Command> exitVmms() {
        pending = vmms.length;
        for (ActorRef<MmCommand> vmm : vmms) {
            getContext().ask(MmStats.class, vmm, TIMEOUT, MmCommand.GetStats::new, (s, f) -> new VmmStats(s));
            getContext().ask(MmResult.class, vmm, TIMEOUT, MmCommand.Exit::new, (r, f) -> new VmmExited(r));
        }
        return this;
    }

    private Behavior<Command> audit() {
        getContext().ask(HostCommand.AuditReport.class, hostActor, TIMEOUT, HostCommand.Audit::new,
                (r, f) -> new Audited(r));
        return this;
    }

    private Behavior<Command> fail(String why) {
        outcome.complete(new Outcome(finished, kvms, stressDone, vmmStats, null, null, why, runNanos));
        return Behaviors.stopped();
    }
}
