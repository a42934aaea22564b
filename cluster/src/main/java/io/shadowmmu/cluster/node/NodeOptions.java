package io.shadowmmu.cluster.node;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How one node joins the cluster.
 *
 * @param hostname    address to bind and advertise; loopback unless told otherwise
 * @param port        0 for any free port
 * @param seedNodes   {@code host:port} of seed nodes; empty means this node forms a new cluster by joining itself
 * @param tls         null for plain TCP, else the keystore and truststore of Artery's {@code tls-tcp} transport
 * @param stableAfter the split-brain resolver decides after membership has been stable this long
 * @param failureDetectionPause how long a node may be silent before it counts as unreachable
 */
public record NodeOptions(String hostname, int port, List<String> seedNodes, Tls tls, Duration stableAfter,
                          Duration failureDetectionPause) {

    public static final String LOOPBACK = "127.0.0.1";

    /** Loopback, quick failure detection and downing (a few seconds), plain TCP. */
    public static NodeOptions loopback(int port, List<String> seedNodes) {
        return new NodeOptions(LOOPBACK, port, List.copyOf(seedNodes), null, Duration.ofSeconds(2),
                Duration.ofSeconds(1));
    }

    public NodeOptions withTls(Tls tls) {
        return new NodeOptions(hostname, port, seedNodes, tls, stableAfter, failureDetectionPause);
    }

    /** A more patient failure detector and resolver, for loaded machines (many nodes in one JVM). */
    public NodeOptions withFailureDetection(Duration pause, Duration stable) {
        return new NodeOptions(hostname, port, seedNodes, tls, stable, pause);
    }

    public NodeOptions withHostname(String host) {
        return new NodeOptions(host, port, seedNodes, tls, stableAfter, failureDetectionPause);
    }

    /**
     * Artery over TLS, both sides authenticated with certificates from these stores.
     *
     * @param keyStore   PKCS12 or JKS keystore with this node's key
     * @param trustStore the certificates this node trusts
     */
    public record Tls(Path keyStore, Path trustStore, String password) {
    }
}
