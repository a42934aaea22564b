package io.shadowmmu.scenario;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.scenario.oracle.CoherenceOracle;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.ObjIntConsumer;

/**
 * Assembles a scenario in a few lines: a host, VMs with their guest processes, GRU devices with their host
 * processes, a host stressor next to each VM, the coherence oracle, all from one seed.
 *
 * <pre>{@code
 * try (Scenario s = ScenarioBuilder.seed(42)
 *         .host(h -> h.memory("64m").strategy(DeliveryStrategyKind.GATHER))
 *         .vm("vm0", v -> v.tdp().vcpus(2).memory("8m").workload(WorkloadKind.MIXED, 50_000, 0.3, 1 << 20))
 *         .gruDevice("gru0", g -> g.processes(2).instructions(20_000))
 *         .stressor(st -> st.livePages(16))
 *         .oracle()
 *         .build()) {
 *     ScenarioOutcome o = s.run(Duration.ofMinutes(1));
 *     assertThat(s.oracle().clean()).isTrue();
 * }
 * }</pre>
 *
 * The scenario runs on an embedded actor system of its own (1 ms scheduler tick), or on a given system ({@link #on}),
 * a test kit's for instance. Nothing here depends on a test library: the command line runs its VM scenarios with it.
 */
public final class ScenarioBuilder {
    private final Settings base;
    private final Map<String, String> overrides = new LinkedHashMap<>();
    private final List<VmSpec> vms = new ArrayList<>();
    private final List<GruSpec> devices = new ArrayList<>();
    private final List<SecondarySpec> secondaries = new ArrayList<>();
    private StressSpec stress;
    private boolean ownOracle;
    private CoherenceEvents events = CoherenceEvents.NONE;
    private ActorSystem<?> system;
    private String name = "scenario";
    private HostContext existingHost;
    private AtomicLong accessCounter;
    private ObjIntConsumer<VmStats> vmStats;
    private ActorRef<HostCommand> sharedHost;

    private ScenarioBuilder(Settings base) {
        this.base = base;
    }

    /** Default settings (reference.conf) with this seed. */
    public static ScenarioBuilder seed(long seed) {
        ScenarioBuilder b = new ScenarioBuilder(Settings.defaults());
        b.overrides.put("seed", Long.toString(seed));
        return b;
    }

    /** These settings, seed and variant included. */
    public static ScenarioBuilder from(Settings settings) {
        return new ScenarioBuilder(settings);
    }

    /** Any setting, key relative to {@code shadowmmu} (e.g. {@code guest.tlb.entries}, {@code variant}). */
    public ScenarioBuilder set(String key, String value) {
        overrides.put(key, value);
        return this;
    }

    public ScenarioBuilder host(Consumer<HostSpec> spec) {
        HostSpec h = new HostSpec();
        spec.accept(h);
        overrides.putAll(h.overrides);
        return this;
    }

    /** A VM named {@code vmName} (unique; also its actor's name) with at least one guest process. */
    public ScenarioBuilder vm(String vmName, Consumer<VmSpec> spec) {
        VmSpec v = new VmSpec(vmName);
        spec.accept(v);
        vms.add(v);
        return this;
    }

    /** A GRU-style device named {@code deviceName} (unique) and the host processes that use it. */
    public ScenarioBuilder gruDevice(String deviceName, Consumer<GruSpec> spec) {
        GruSpec g = new GruSpec(deviceName);
        spec.accept(g);
        devices.add(g);
        return this;
    }

    /**
     * A secondary MMU of the caller's own ({@link SecondarySpec}): the run gives it a host process with a region
     * mapped, spawns {@code spec.actor(...)} on it, and waits for it to say it is done.
     *
     * <pre>{@code
     * .secondary("mine", s -> s.region("256k").stressed().actor(ctx -> MySecondary.create(ctx, 50_000)))
     * }</pre>
     */
    public ScenarioBuilder secondary(String secondaryName, Consumer<SecondarySpec> spec) {
        SecondarySpec s = new SecondarySpec(secondaryName);
        spec.accept(s);
        secondaries.add(s);
        return this;
    }

    /** A host stressor next to every VM ({@link VmHostStressor}). */
    public ScenarioBuilder stressor(Consumer<StressSpec> spec) {
        StressSpec s = new StressSpec();
        spec.accept(s);
        stress = s;
        return this;
    }

    /** Check the run with a fresh {@link CoherenceOracle}; {@link Scenario#run} finishes its checks (I4, I5). */
    public ScenarioBuilder oracle() {
        ownOracle = true;
        return this;
    }

    /** Report to the caller's sink instead; the caller finishes its checks with the outcome's audit. */
    public ScenarioBuilder events(CoherenceEvents sink) {
        ownOracle = false;
        events = sink;
        return this;
    }

    /** Run on this actor system (as a system actor); from a test, the test kit's ({@code testKit.system()}). */
    public ScenarioBuilder on(ActorSystem<?> actorSystem) {
        system = actorSystem;
        return this;
    }

    /**
     * Build on a host someone already made (its settings, RAM and event sink); no setting may be overridden then.
     */
    public ScenarioBuilder onHost(HostContext host) {
        existingHost = host;
        return this;
    }

    /** Also publish the guest accesses done so far in this counter (for a caller's progress display). */
    public ScenarioBuilder countAccessesIn(AtomicLong counter) {
        accessCounter = counter;
        return this;
    }

    /**
     * Also hand each VM's latest counters (polled four times a second, and the final ones) to {@code listener}, with
     * the VM's index in the order the VMs were added. Called on the scenario's actor: keep it short and thread-safe.
     */
    public ScenarioBuilder publishVmStats(ObjIntConsumer<VmStats> listener) {
        vmStats = listener;
        return this;
    }

    /**
     * Spawn the processes through a host actor a larger run owns (with {@link #onHost} for its context). The run then
     * neither audits the host nor reads its pressure counters (the outcome has none): the owner does that once every
     * part of its run has exited.
     */
    public ScenarioBuilder sharingHostActor(ActorRef<HostCommand> hostActor) {
        sharedHost = hostActor;
        return this;
    }

    /** Name of the embedded actor system or of the guardian. */
    public ScenarioBuilder named(String scenarioName) {
        name = scenarioName;
        return this;
    }

    /** Validates the settings and the parts, and makes the host; nothing runs before {@link Scenario#start}. */
    public Scenario build() {
        if (sharedHost != null && existingHost == null) {
            throw new IllegalArgumentException("a shared host actor needs its host context too: call onHost");
        }
        if (existingHost != null && !overrides.isEmpty()) {
            throw new IllegalArgumentException("settings " + overrides.keySet() + " cannot change a host that"
                    + " already exists");
        }
        Settings settings = existingHost != null ? existingHost.settings()
                : overrides.isEmpty() ? base : Settings.withOverrides(base.root(), overrides);
        Set<String> names = new HashSet<>();
        for (VmSpec v : vms) {
            if (!names.add(v.name)) {
                throw new IllegalArgumentException("two parts are named " + v.name);
            }
            if (v.processes.isEmpty()) {
                throw new IllegalArgumentException("vm " + v.name + " has no guest process: give it a workload");
            }
        }
        for (GruSpec g : devices) {
            if (!names.add(g.name)) {
                throw new IllegalArgumentException("two parts are named " + g.name);
            }
            if (g.processes < 1 || g.instructions < g.processes) {
                throw new IllegalArgumentException("gru device " + g.name + " needs at least one process and one"
                        + " instruction per process");
            }
        }
        for (SecondarySpec s : secondaries) {
            if (!names.add(s.name)) {
                throw new IllegalArgumentException("two parts are named " + s.name);
            }
            if (s.factory == null || s.regionBytes <= 0) {
                throw new IllegalArgumentException("secondary " + s.name + " needs an actor and a region");
            }
        }
        CoherenceOracle oracle = ownOracle && existingHost == null && settings.oracle().enabled()
                ? new CoherenceOracle(settings.oracle()) : null;
        HostContext host = existingHost != null ? existingHost
                : HostContext.create(settings, oracle != null ? oracle : events);
        GruSettings gru = devices.isEmpty() && secondaries.isEmpty() ? null : GruSettings.read(settings);
        Assembly.Plan plan = new Assembly.Plan(List.copyOf(vms), stress, List.copyOf(devices), gru,
                GuestSettings.from(settings), settings.seed(), sharedHost, vmStats, List.copyOf(secondaries));
        return new Scenario(name, host, plan, oracle, system,
                accessCounter != null ? accessCounter : new AtomicLong());
    }
}
