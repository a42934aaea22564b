package io.shadowmmu.cluster.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import java.util.ArrayList;
import java.util.List;

/** Akka settings of one cluster node, from {@link NodeOptions}. */
public final class NodeConfig {
    /** Every node of one cluster runs an actor system of this name. */
    public static final String SYSTEM_NAME = "shadowmmu";

    private NodeConfig() {
    }

    /** Cluster, remoting, split-brain resolver and (optionally) TLS settings, over {@code fallback}. */
    public static Config of(NodeOptions o, Config fallback) {
        List<String> seeds = new ArrayList<>();
        for (String s : o.seedNodes()) {
            seeds.add("akka://" + SYSTEM_NAME + "@" + s);
        }
        Config c = ConfigFactory.parseString(String.join("\n",
                "akka.actor.provider = cluster",
                "akka.remote.artery.transport = tcp",
                "akka.remote.artery.canonical.hostname = \"" + o.hostname() + "\"",
                "akka.remote.artery.canonical.port = " + o.port(),
                // Membership decisions: the split-brain resolver downs what stays unreachable (keep-majority).
                "akka.cluster.downing-provider-class = \"akka.cluster.sbr.SplitBrainResolverProvider\"",
                "akka.cluster.split-brain-resolver.active-strategy = keep-majority",
                "akka.cluster.split-brain-resolver.stable-after = " + o.stableAfter().toMillis() + "ms",
                "akka.cluster.failure-detector.heartbeat-interval = 200ms",
                "akka.cluster.failure-detector.acceptable-heartbeat-pause = "
                        + o.failureDetectionPause().toMillis() + "ms",
                "akka.cluster.failure-detector.expected-response-after = 200ms",
                "akka.cluster.unreachable-nodes-reaper-interval = 200ms",
                "akka.cluster.gossip-interval = 200ms",
                "akka.cluster.leader-actions-interval = 200ms",
                "akka.cluster.jmx.enabled = off",
                "akka.cluster.log-info = off",
                "akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = off",
                "akka.remote.artery.advanced.give-up-system-message-after = 10s",
                "akka.coordinated-shutdown.exit-jvm = off",
                "akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off",
                "akka.loglevel = WARNING",
                "akka.log-dead-letters = off",
                "akka.log-dead-letters-during-shutdown = off",
                "akka.scheduler.tick-duration = 1ms"))
                .withValue("akka.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds));
        if (o.tls() != null) {
            c = tls(o.tls()).withFallback(c);
        }
        return c.withFallback(fallback);
    }

    /** Artery's TLS transport: mutual authentication with certificates from the given stores. */
    static Config tls(NodeOptions.Tls t) {
        String p = "akka.remote.artery.ssl.config-ssl-engine.";
        return ConfigFactory.parseString("akka.remote.artery.transport = tls-tcp")
                .withValue(p + "key-store", ConfigValueFactory.fromAnyRef(t.keyStore().toString()))
                .withValue(p + "trust-store", ConfigValueFactory.fromAnyRef(t.trustStore().toString()))
                .withValue(p + "key-store-password", ConfigValueFactory.fromAnyRef(t.password()))
                .withValue(p + "key-password", ConfigValueFactory.fromAnyRef(t.password()))
                .withValue(p + "trust-store-password", ConfigValueFactory.fromAnyRef(t.password()))
                .withValue(p + "protocol", ConfigValueFactory.fromAnyRef("TLSv1.2"))
                .withValue(p + "enabled-algorithms",
                        ConfigValueFactory.fromIterable(List.of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")))
                .withValue(p + "require-mutual-authentication", ConfigValueFactory.fromAnyRef(true))
                // One self-signed certificate for every node on loopback: no host name to verify.
                .withValue(p + "hostname-verification", ConfigValueFactory.fromAnyRef(false));
    }
}
