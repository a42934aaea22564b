package io.shadowmmu.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.scenario.GruStressor;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.kvm.KvmStats;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ObjIntConsumer;

/**
 * The guardian of a built scenario: a host; per VM a VMM process with guest RAM mapped, a GuestVm (with its KvmMmu)
 * on it and its guest processes, and the VM stressor if asked; per GRU device the device and its host processes,
 * each with a region mapped, and gru-device's stressor if asked. Once everything is set up the VMs run and the GRU
 * processes start; when all finished, the stressors stop, the counters are gathered, every process exits and the
 * host audits its frames. The outcome completes a future (the caller is a test or the CLI, not an actor).
 */
final class Assembly extends AbstractBehavior<Assembly.Command> {

    interface Command {
    }

    /** Everything the builder decided. */
    /**
     * @param sharedHost a host actor owned by a larger run (which audits it), or null to spawn one here
     * @param vmStats    told each VM's latest counters, or null
     */
    record Plan(List<VmSpec> vms, StressSpec stress, List<GruSpec> devices, GruSettings gru, GuestSettings guest,
                long seed, ActorRef<HostCommand> sharedHost, ObjIntConsumer<VmStats> vmStats,
                List<SecondarySpec> secondaries) {
    }

    private record VmmSpawned(int vm, HostCommand.ProcessSpawned process) implements Command {
    }

    private record RamFileCreated(int vm, HostCommand.FileCreated created) implements Command {
    }

    private record RamMapped(int vm, MmResult result) implements Command {
    }

    private record ProcessStarted(int vm, GuestVm.Spawned spawned) implements Command {
    }

    private record UserSpawned(int device, int index, HostCommand.ProcessSpawned process) implements Command {
    }

    private record RegionMapped(int device, int index, MmResult result) implements Command {
    }

    private record SecondarySpawned(int index, HostCommand.ProcessSpawned process) implements Command {
    }

    private record SecondaryMapped(int index, MmResult result) implements Command {
    }

    private record SecondaryFinished(SecondaryDone done) implements Command {
    }

    private record VmFinished(int vm, VmStats stats) implements Command {
    }

    private record GruFinished(GruProcess.Result result) implements Command {
    }

    private record Polled(VmStats stats) implements Command {
    }

    private record StressDone(VmHostStressor.Done done) implements Command {
    }

    private record GruStressDone(GruStressor.Counts counts) implements Command {
    }

    private record KvmCounters(KvmStats stats) implements Command {
    }

    private record DeviceCounters(GruStats stats) implements Command {
    }

    private record VmmStats(MmStats stats) implements Command {
    }

    private record Exited(MmResult result) implements Command {
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
    private final Plan plan;
    private final AtomicLong accessesDone;
    private final CompletableFuture<ScenarioOutcome> outcome;
    private final ActorRef<HostCommand> hostActor;
    private final GuestSettings[] guests;
    private final ActorRef<MmCommand>[] vmms;
    private final long[] vmmIds;
    private final long[] hvaBases;
    private final List<ActorRef<GuestVm.Command>> vms = new ArrayList<>();
    private final List<ActorRef<VmHostStressor.Command>> stressors = new ArrayList<>();
    private final List<ActorRef<GruCommand>> devices = new ArrayList<>();
    private final HostCommand.ProcessSpawned[][] users;
    private final Range[][] regions;
    private final List<ActorRef<GruStressor.Command>> gruStressors = new ArrayList<>();
    private final List<VmStats> finished = new ArrayList<>();
    private final List<KvmStats> kvms = new ArrayList<>();
    private final List<VmHostStressor.Done> stressDone = new ArrayList<>();
    private final List<MmStats> vmmStats = new ArrayList<>();
    private final List<GruStats> deviceStats = new ArrayList<>();
    private final List<GruProcess.Result> gruResults = new ArrayList<>();
    private final HostCommand.ProcessSpawned[] secondaryProcesses;
    private final Range[] secondaryRegions;
    private final List<SecondaryDone> secondaryResults = new ArrayList<>();
    private GruStressor.Counts gruStress = new GruStressor.Counts(0, 0, 0, 0, 0);
    private int gruStressReports;
    private boolean gruStopAsked;
    private boolean collecting;
    private final long[] polled;
    private int waitingToStart;
    private int gruProcesses;
    private int pending;
    private long runStarted;
    private long runNanos;
    private HostCommand.AuditReport audit;

    static Behavior<Command> create(HostContext host, Plan plan, AtomicLong accessesDone,
                                    CompletableFuture<ScenarioOutcome> outcome) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Poll.INSTANCE, Duration.ofMillis(250));
            return new Assembly(ctx, host, plan, accessesDone, outcome);
        }));
    }

    @SuppressWarnings("unchecked")
    private Assembly(ActorContext<Command> context, HostContext host, Plan plan, AtomicLong accessesDone,
                     CompletableFuture<ScenarioOutcome> outcome) {
        super(context);
        this.host = host;
        this.plan = plan;
        this.accessesDone = accessesDone;
        this.outcome = outcome;
        int n = plan.vms().size();
        this.guests = new GuestSettings[n];
        this.vmms = new ActorRef[n];
        this.vmmIds = new long[n];
        this.hvaBases = new long[n];
        this.polled = new long[n];
        this.users = new HostCommand.ProcessSpawned[plan.devices().size()][];
        this.regions = new Range[plan.devices().size()][];
        this.secondaryProcesses = new HostCommand.ProcessSpawned[plan.secondaries().size()];
        this.secondaryRegions = new Range[plan.secondaries().size()];
        this.hostActor = plan.sharedHost() != null ? plan.sharedHost() : context.spawn(HostActor.create(host), "host");
        for (int i = 0; i < n; i++) {
            int vm = i;
            guests[i] = plan.vms().get(i).guest(plan.guest());
            waitingToStart += plan.vms().get(i).processes.size();
            context.ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                    r -> new HostCommand.SpawnProcess("vmm-" + vm, r), (p, f) -> new VmmSpawned(vm, p));
        }
        for (int d = 0; d < plan.devices().size(); d++) {
            GruSpec g = plan.devices().get(d);
            devices.add(context.spawn(GruDevice.create(g.name, plan.gru(), host.memory(), host.settings().variant()),
                    g.name));
            users[d] = new HostCommand.ProcessSpawned[g.processes];
            regions[d] = new Range[g.processes];
            waitingToStart += g.processes;
            gruProcesses += g.processes;
            for (int p = 0; p < g.processes; p++) {
                int device = d;
                int index = p;
                context.ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                        r -> new HostCommand.SpawnProcess(g.name + "-user" + index, r),
                        (s, f) -> new UserSpawned(device, index, s));
            }
        }
        for (int s = 0; s < plan.secondaries().size(); s++) {
            int index = s;
            waitingToStart++;
            context.ask(HostCommand.ProcessSpawned.class, hostActor, TIMEOUT,
                    r -> new HostCommand.SpawnProcess(plan.secondaries().get(index).name + "-process", r),
                    (p, f) -> new SecondarySpawned(index, p));
        }
        if (waitingToStart == 0 && n == 0) {
            getContext().getSelf().tell(new VmFinished(-1, null)); // nothing to run: straight to the audit
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(VmmSpawned.class, this::onVmmSpawned)
                .onMessage(RamFileCreated.class, this::onRamFileCreated)
                .onMessage(RamMapped.class, this::onRamMapped)
                .onMessage(ProcessStarted.class, this::onProcessStarted)
                .onMessage(UserSpawned.class, this::onUserSpawned)
                .onMessage(RegionMapped.class, this::onRegionMapped)
                .onMessage(VmFinished.class, this::onVmFinished)
                .onMessage(SecondarySpawned.class, this::onSecondarySpawned)
                .onMessage(SecondaryMapped.class, this::onSecondaryMapped)
                .onMessage(SecondaryFinished.class, s -> {
                    if (s.done().failure() != null) {
                        return fail("secondary " + s.done().name() + " failed: " + s.done().failure());
                    }
                    secondaryResults.add(s.done());
                    return maybeCollect();
                })
                .onMessage(GruFinished.class, g -> {
                    gruResults.add(g.result());
                    return maybeCollect();
                })
                .onMessageEquals(Poll.INSTANCE, this::onPoll)
                .onMessage(Polled.class, p -> this)
                .onMessage(StressDone.class, s -> {
                    stressDone.add(s.done());
                    return maybeCollect();
                })
                .onMessage(GruStressDone.class, s -> {
                    GruStressor.Counts a = gruStress;
                    GruStressor.Counts b = s.counts();
                    gruStress = new GruStressor.Counts(a.mprotects() + b.mprotects(), a.munmaps() + b.munmaps(),
                            a.dontneeds() + b.dontneeds(), a.forks() + b.forks(), a.failed() + b.failed());
                    gruStressReports++;
                    return maybeCollect();
                })
                .onMessage(KvmCounters.class, k -> {
                    if (k.stats() != null) {
                        kvms.add(k.stats());
                    }
                    return --pending == 0 ? exitProcesses() : this;
                })
                .onMessage(DeviceCounters.class, d -> {
                    if (d.stats() != null) {
                        deviceStats.add(d.stats());
                    }
                    return --pending == 0 ? exitProcesses() : this;
                })
                .onMessage(VmmStats.class, s -> {
                    if (s.stats() != null) {
                        vmmStats.add(s.stats());
                    }
                    return this;
                })
                .onMessage(Exited.class, e -> --pending > 0 ? this : plan.sharedHost() == null ? audit() : done())
                .onMessage(Audited.class, a -> {
                    audit = a.report();
                    getContext().ask(PressureCounters.Snapshot.class, hostActor, TIMEOUT,
                            HostCommand.GetPressureStats::new, (p, f) -> new Pressure(p));
                    return this;
                })
                .onMessage(Pressure.class, p -> {
                    deviceStats.sort((x, y) -> x.name().compareTo(y.name()));
                    outcome.complete(new ScenarioOutcome(finished, kvms, stressDone, vmmStats, deviceStats,
                            gruResults, gruStress, audit, p.snapshot(), null, runNanos, secondaryResults));
                    return Behaviors.stopped();
                })
                .build();
    }

    // ---- set-up ---------------------------------------------------------------------------------------------------

    private Behavior<Command> onVmmSpawned(VmmSpawned s) {
        if (s.process() == null) {
            return fail("the VMM process of vm " + s.vm() + " could not be spawned");
        }
        vmms[s.vm()] = s.process().process();
        vmmIds[s.vm()] = s.process().mm();
        long bytes = guests[s.vm()].memoryBytes();
        if (plan.vms().get(s.vm()).sharedFileRam) {
            getContext().ask(HostCommand.FileCreated.class, hostActor, TIMEOUT,
                    r -> new HostCommand.CreateFile(plan.vms().get(s.vm()).name + "-ram", bytes, r),
                    (c, f) -> new RamFileCreated(s.vm(), c));
            return this;
        }
        getContext().ask(MmResult.class, vmms[s.vm()], TIMEOUT, r -> new MmCommand.Mmap(0, bytes,
                Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0, r), (m, f) -> new RamMapped(s.vm(), m));
        return this;
    }

    /** The backing file of a VM's RAM exists: map all of it shared into the VMM. */
    private Behavior<Command> onRamFileCreated(RamFileCreated c) {
        if (c.created() == null) {
            return fail("the RAM file of vm " + c.vm() + " could not be created");
        }
        long bytes = guests[c.vm()].memoryBytes();
        getContext().ask(MmResult.class, vmms[c.vm()], TIMEOUT, r -> new MmCommand.Mmap(0, bytes,
                Protection.READ_WRITE, VmaKind.FILE_SHARED, c.created().file(), 0, r),
                (m, f) -> new RamMapped(c.vm(), m));
        return this;
    }

    private Behavior<Command> onRamMapped(RamMapped m) {
        if (m.result() == null || !m.result().ok()) {
            return fail("guest RAM of vm " + m.vm() + " could not be mapped: " + m.result());
        }
        int i = m.vm();
        VmSpec spec = plan.vms().get(i);
        hvaBases[i] = ((MmResult.Done) m.result()).value();
        ActorRef<GuestVm.Command> vm = getContext().spawn(GuestVm.onHost(new GuestVm.HostVm(spec.name,
                AgentIds.next(), host, guests[i], vmms[i], vmmIds[i], hvaBases[i], spec.tdp, 0)), spec.name);
        while (vms.size() <= i) {
            vms.add(null);
        }
        vms.set(i, vm);
        for (VmSpec.Process p : spec.processes) {
            getContext().ask(GuestVm.Spawned.class, vm, TIMEOUT,
                    r -> new GuestVm.Spawn(p.name(), p.vmas(), p.workload().apply(plan.seed()), r),
                    (sp, f) -> new ProcessStarted(i, sp));
        }
        return this;
    }

    private Behavior<Command> onProcessStarted(ProcessStarted p) {
        if (p.spawned() == null) {
            return fail("a guest process of vm " + p.vm() + " could not start");
        }
        return startWhenReady();
    }

    private Behavior<Command> onUserSpawned(UserSpawned s) {
        if (s.process() == null) {
            return fail("host process " + s.index() + " of " + plan.devices().get(s.device()).name
                    + " could not be spawned");
        }
        users[s.device()][s.index()] = s.process();
        long length = plan.devices().get(s.device()).regionBytes;
        getContext().ask(MmResult.class, s.process().process(), TIMEOUT,
                r -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, r),
                (r, f) -> new RegionMapped(s.device(), s.index(), r));
        return this;
    }

    private Behavior<Command> onRegionMapped(RegionMapped m) {
        GruSpec g = plan.devices().get(m.device());
        if (m.result() == null || !m.result().ok()) {
            return fail("the region of " + g.name + "-user" + m.index() + " could not be mapped: " + m.result());
        }
        long start = ((MmResult.Done) m.result()).value();
        regions[m.device()][m.index()] = new Range(start, start + g.regionBytes);
        return startWhenReady();
    }

    private Behavior<Command> onSecondarySpawned(SecondarySpawned s) {
        if (s.process() == null) {
            return fail("the process of secondary " + plan.secondaries().get(s.index()).name + " could not be spawned");
        }
        secondaryProcesses[s.index()] = s.process();
        long length = plan.secondaries().get(s.index()).regionBytes;
        getContext().ask(MmResult.class, s.process().process(), TIMEOUT,
                r -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, r),
                (r, f) -> new SecondaryMapped(s.index(), r));
        return this;
    }

    private Behavior<Command> onSecondaryMapped(SecondaryMapped m) {
        SecondarySpec spec = plan.secondaries().get(m.index());
        if (m.result() == null || !m.result().ok()) {
            return fail("the region of secondary " + spec.name + " could not be mapped: " + m.result());
        }
        long start = ((MmResult.Done) m.result()).value();
        secondaryRegions[m.index()] = new Range(start, start + spec.regionBytes);
        return startWhenReady();
    }

    /** Spawns every caller's secondary on its process and region, with its stressor if asked. */
    private void startSecondaries() {
        ActorRef<SecondaryDone> done = getContext().messageAdapter(SecondaryDone.class, SecondaryFinished::new);
        for (int s = 0; s < plan.secondaries().size(); s++) {
            SecondarySpec spec = plan.secondaries().get(s);
            HostCommand.ProcessSpawned p = secondaryProcesses[s];
            long agent = AgentIds.next();
            host.events().agentNamed(agent, spec.name);
            host.events().mirrors(agent, p.mm()); // I2: its translations must be of this process's frames
            SecondaryContext ctx = new SecondaryContext(spec.name, agent, p.process(), p.mm(), secondaryRegions[s],
                    host.memory(), host.events(), plan.seed() * 1_000_033L + s, done);
            getContext().spawn(spec.factory.apply(ctx), spec.name);
            if (spec.stress) {
                gruStressors.add(getContext().spawn(GruStressor.create(
                        List.of(new GruStressor.Target(p.process(), secondaryRegions[s])), plan.gru().stressPages(),
                        plan.seed() ^ (0x5EC0DL + s)), spec.name + "-stressor"));
            }
        }
    }

    /** Everything is set up: the VMs run, the GRU processes start, the stressors begin. */
    private Behavior<Command> startWhenReady() {
        if (--waitingToStart > 0) {
            return this;
        }
        runStarted = System.nanoTime();
        ActorRef<VmHostStressor.Done> stressReports = getContext().messageAdapter(VmHostStressor.Done.class,
                StressDone::new);
        for (int i = 0; i < vms.size(); i++) {
            int vm = i;
            getContext().ask(VmStats.class, vms.get(i), RUN_TIMEOUT, GuestVm.Run::new,
                    (s, f) -> new VmFinished(vm, s));
            if (plan.stress() != null) {
                stressors.add(getContext().spawn(VmHostStressor.create(i, vms.get(i), vmms[i], hvaBases[i],
                        guests[i].memoryBytes(), plan.stress(), host.settings().seed() * 31 + i, stressReports),
                        "stress-" + i));
            }
        }
        ActorRef<GruProcess.Result> gruDone = getContext().messageAdapter(GruProcess.Result.class,
                GruFinished::new);
        // I1 for the GRU users needs word contents, and is the oracle's: checked in check mode with FULL contents.
        io.shadowmmu.hostmm.events.CoherenceEvents golden = host.memory().checkMode()
                && host.memory().contentMode() == io.shadowmmu.config.ContentMode.FULL ? host.memory().events() : null;
        for (int d = 0; d < devices.size(); d++) {
            GruSpec g = plan.devices().get(d);
            long each = g.instructions / g.processes;
            List<GruStressor.Target> targets = new ArrayList<>();
            for (int p = 0; p < g.processes; p++) {
                long share = p == 0 ? g.instructions - each * (g.processes - 1) : each;
                HostCommand.ProcessSpawned u = users[d][p];
                ActorRef<GruProcess.Command> user = getContext().spawn(GruProcess.create(devices.get(d),
                        u.process(), u.mm(), u.name(), List.of(regions[d][p]), plan.gru(),
                        plan.seed() * 1_000_003L + d * 7_919L + p, share, () -> false, golden, gruDone),
                        g.name + "-proc" + p);
                // The stressor tells the user of its discards, so the golden copy forgets what they zeroed.
                targets.add(new GruStressor.Target(u.process(), regions[d][p], user));
            }
            if (g.stress) {
                gruStressors.add(getContext().spawn(GruStressor.create(targets, plan.gru().stressPages(),
                        plan.seed() ^ (0x5EEDL + d)), g.name + "-stressor"));
            }
        }
        startSecondaries();
        return this;
    }

    // ---- running --------------------------------------------------------------------------------------------------

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
                        if (plan.vmStats() != null) {
                            plan.vmStats().accept(s, idx);
                        }
                    }
                    return new Polled(s);
                });
            }
        }
        return this;
    }

    private Behavior<Command> onVmFinished(VmFinished f) {
        if (f.vm() >= 0) {
            if (f.stats() == null) {
                return fail("vm " + f.vm() + " did not finish");
            }
            finished.add(f.stats());
            polled[f.vm()] = f.stats().accesses();
            if (plan.vmStats() != null) {
                plan.vmStats().accept(f.stats(), f.vm());
            }
            if (f.vm() < stressors.size()) {
                stressors.get(f.vm()).tell(VmHostStressor.Stop.INSTANCE); // its VM is done: no more stress on it
            }
        }
        return maybeCollect();
    }

    private Behavior<Command> maybeCollect() {
        if (collecting || finished.size() < vms.size() || gruResults.size() < gruProcesses
                || secondaryResults.size() < plan.secondaries().size()) {
            return this;
        }
        if (runNanos == 0 && runStarted != 0) {
            runNanos = System.nanoTime() - runStarted; // the workloads are done; stopping the stressors is not timed
        }
        if (!gruStressors.isEmpty() && !gruStopAsked) {
            gruStopAsked = true; // every GRU process is done: no more stress on their memory
            ActorRef<GruStressor.Counts> counts = getContext().messageAdapter(GruStressor.Counts.class,
                    GruStressDone::new);
            for (ActorRef<GruStressor.Command> s : gruStressors) {
                s.tell(new GruStressor.Stop(counts));
            }
        }
        if (stressDone.size() < stressors.size() || gruStressReports < gruStressors.size()) {
            return this;
        }
        collecting = true;
        pending = vms.size() + devices.size();
        if (pending == 0) {
            return exitProcesses();
        }
        for (ActorRef<GuestVm.Command> vm : vms) {
            getContext().ask(KvmStats.class, vm, TIMEOUT, GuestVm.GetKvmStats::new, (k, f) -> new KvmCounters(k));
        }
        ActorRef<GruStats> statsRef = getContext().messageAdapter(GruStats.class, DeviceCounters::new);
        for (ActorRef<GruCommand> d : devices) {
            d.tell(new GruCommand.GetStats(statsRef));
        }
        return this;
    }

    // ---- the end --------------------------------------------------------------------------------------------------

    private Behavior<Command> exitProcesses() {
        List<ActorRef<MmCommand>> all = new ArrayList<>(List.of(vmms));
        for (HostCommand.ProcessSpawned[] ps : users) {
            for (HostCommand.ProcessSpawned p : ps) {
                all.add(p.process());
            }
        }
        for (HostCommand.ProcessSpawned p : secondaryProcesses) {
            all.add(p.process());
        }
        pending = all.size();
        if (pending == 0) {
            return plan.sharedHost() == null ? audit() : done();
        }
        for (ActorRef<MmCommand> vmm : vmms) {
            getContext().ask(MmStats.class, vmm, TIMEOUT, MmCommand.GetStats::new, (s, f) -> new VmmStats(s));
        }
        for (ActorRef<MmCommand> p : all) {
            getContext().ask(MmResult.class, p, TIMEOUT, MmCommand.Exit::new, (r, f) -> new Exited(r));
        }
        return this;
    }

    /** On a shared host: every process of this run exited; the host's owner audits. */
    private Behavior<Command> done() {
        deviceStats.sort((x, y) -> x.name().compareTo(y.name()));
        outcome.complete(new ScenarioOutcome(finished, kvms, stressDone, vmmStats, deviceStats, gruResults,
                gruStress, null, null, null, runNanos, secondaryResults));
        return Behaviors.stopped();
    }

    private Behavior<Command> audit() {
        getContext().ask(HostCommand.AuditReport.class, hostActor, TIMEOUT, HostCommand.Audit::new,
                (r, f) -> new Audited(r));
        return this;
    }

    private Behavior<Command> fail(String why) {
        outcome.complete(new ScenarioOutcome(finished, kvms, stressDone, vmmStats, deviceStats, gruResults,
                gruStress, null, null, why, runNanos, secondaryResults));
        return Behaviors.stopped();
    }
}
