package io.shadowmmu.emulator.scenario;

import io.shadowmmu.emulator.churn.HostChurnScenario;
import io.shadowmmu.emulator.gru.GruScenario;
import io.shadowmmu.emulator.strategies.StrategiesScenario;
import io.shadowmmu.emulator.vm.MixedScenario;
import io.shadowmmu.emulator.vm.OvercommitScenario;
import io.shadowmmu.emulator.vm.ScaleScenario;
import io.shadowmmu.emulator.vm.TraceScenario;
import io.shadowmmu.emulator.vm.VmScenario;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** Every scenario the CLI knows, in the order {@code scenarios} lists them. */
public final class Scenarios {
    /** The scenario {@code run} uses without {@code --scenario}. */
    public static final String DEFAULT = "mixed";

    private static final Map<String, Scenario> ALL = new LinkedHashMap<>();

    static {
        register(new MixedScenario());
        register(new HostChurnScenario());
        register(new VmScenario(true));
        register(new VmScenario(false));
        register(new TraceScenario());
        register(new OvercommitScenario());
        register(new StrategiesScenario());
        register(new GruScenario());
        register(new ScaleScenario());
        register(new io.shadowmmu.emulator.cluster.ClusterScenario());
        register(new io.shadowmmu.emulator.cluster.ClusterVmsScenario());
    }

    private Scenarios() {
    }

    private static void register(Scenario s) {
        ALL.put(s.name(), s);
    }

    public static Optional<Scenario> find(String name) {
        return Optional.ofNullable(ALL.get(name));
    }

    public static Map<String, Scenario> all() {
        return ALL;
    }
}
