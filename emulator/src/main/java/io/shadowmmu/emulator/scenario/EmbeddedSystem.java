package io.shadowmmu.emulator.scenario;

import com.typesafe.config.Config;
import io.shadowmmu.config.Settings;

/** Akka settings for a scenario's embedded, single-node actor system. */
public final class EmbeddedSystem {
    private EmbeddedSystem() {
    }

    /**
     * Quiet logging, and a 1 ms scheduler tick: sleeping subscribers, ack deadlines and fence polls are measured in
     * milliseconds, and Akka's default 10 ms tick would round every one of them up.
     */
    public static Config config(Settings settings) {
        return io.shadowmmu.scenario.Scenario.embeddedConfig(settings);
    }
}
