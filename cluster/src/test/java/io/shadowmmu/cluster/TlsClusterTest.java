package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Two nodes over Artery's TLS transport (test-only self-signed stores) form a cluster and import memory. */
class TlsClusterTest {

    @Test
    void nodesOverTlsFormAClusterAndImport() throws Exception {
        Path dir = Path.of(TlsClusterTest.class.getResource("/tls/node-keystore.p12").toURI()).getParent();
        NodeOptions.Tls tls = new NodeOptions.Tls(dir.resolve("node-keystore.p12"),
                dir.resolve("node-truststore.p12"), "changeit");
        ClusterSettings cs = TestNode.clusterSettings(Duration.ofSeconds(2));
        TestNode a = TestNode.start(cs, NodeOptions.loopback(0, List.of()).withTls(tls));
        TestNode b = TestNode.start(cs, NodeOptions.loopback(0, List.of()).withTls(tls));
        try {
            assertThat(a.node.system().settings().config().getString("akka.remote.artery.transport"))
                    .isEqualTo("tls-tcp");
            a.node.joinSelf();
            b.node.join(a.node);
            a.awaitUp(2);
            b.awaitUp(2);

            TestNode.Process p = a.spawnProcess("tls-exporter", 2);
            p.write(1, 5, 4242);
            long segment = a.export(p, false);
            ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ZERO, "tls-importer", Variant.NONE);
            assertThat(b.access(imp, TestNode.PAGE + 40, false, 0).value()).isEqualTo(4242);
            a.assertClean();
        } finally {
            TestNode.closeAll(b, a);
        }
    }
}
