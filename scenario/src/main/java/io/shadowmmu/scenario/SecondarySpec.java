package io.shadowmmu.scenario;

import akka.actor.typed.Behavior;

import java.util.Objects;
import java.util.function.Function;

/**
 * A secondary MMU of the caller's own, plugged into a scenario: the run spawns a host process for it, maps a region
 * of anonymous memory there, and spawns the caller's actor with a {@link SecondaryContext} (the mm to register with,
 * the region, the host's RAM, the run's event sink, an agent id already bound to the mm for I2). The actor does its
 * work, then tells {@link SecondaryContext#done()}; the run ends when every part is done. A stressor (mprotect,
 * munmap, DONTNEED, fork on the region) is optional.
 */
public final class SecondarySpec {
    final String name;
    long regionBytes = 256 << 10;
    boolean stress;
    Function<SecondaryContext, Behavior<?>> factory;

    SecondarySpec(String name) {
        this.name = name;
    }

    /** Memory the process maps for the secondary to translate. */
    public SecondarySpec region(String size) {
        regionBytes = com.typesafe.config.ConfigFactory.parseString("m = " + size).getBytes("m");
        return this;
    }

    /** Run gru-device's host stressor on the region while the secondary works (invalidations, fences, forks). */
    public SecondarySpec stressed() {
        stress = true;
        return this;
    }

    /** The caller's secondary: called once, on the scenario's actor, when the region is mapped. */
    public SecondarySpec actor(Function<SecondaryContext, Behavior<?>> behavior) {
        factory = Objects.requireNonNull(behavior);
        return this;
    }
}
