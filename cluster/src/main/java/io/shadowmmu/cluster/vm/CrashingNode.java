package io.shadowmmu.cluster.vm;

import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;

/**
 * Settings for a node whose {@link io.shadowmmu.cluster.node.ClusterNode#close()} is a crash, not a leave: its actor
 * system stops without running coordinated shutdown, so it never tells the cluster it goes; the others find out by
 * the failure detector and the split-brain resolver downs it. How a scenario or test kills a node mid-run in one
 * JVM.
 */
public final class CrashingNode {
    private CrashingNode() {
    }

    public static Settings settings(Settings settings) {
        return Settings.fromConfig(ConfigFactory.parseString(
                "akka.coordinated-shutdown.run-by-actor-system-terminate = off").withFallback(settings.root()));
    }
}
