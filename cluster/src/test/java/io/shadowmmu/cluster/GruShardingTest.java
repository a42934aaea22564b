package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.shadowmmu.cluster.gru.GruEntity;
import io.shadowmmu.cluster.gru.GruSharding;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * GRU devices placed by Cluster Sharding on three nodes: each device and its user process run on the node their
 * shard went to, jobs go through the device there with every read checked against the process's golden copy (I1),
 * and a flush in the middle of a job shoots the device's TLB down. When a node leaves, its devices start again on
 * the others; the remaining nodes' audits and oracles stay clean.
 */
class GruShardingTest {
    private static final int DEVICES = 6;

    @Test
    void devicesSpreadOverTheNodesRunCheckedJobsAndMoveWhenOneLeaves() {
        TestNode[] nodes = TestNode.cluster(3, TestNode.clusterSettings(Duration.ofSeconds(2)));
        TestNode a = nodes[0];
        TestNode b = nodes[1];
        TestNode c = nodes[2];
        try {
            for (TestNode n : nodes) {
                GruSharding.init(n.node, 8);
            }
            TestProbe<GruEntity.Ran> ran = a.probe();
            TestProbe<GruEntity.Flushed> flushed = a.probe();
            Set<String> hosts = new HashSet<>();
            long checked = 0;
            for (int i = 0; i < DEVICES; i++) {
                GruSharding.gru(a.node, "gru-" + i).tell(new GruEntity.Run(2_000, i, ran.getRef()));
                GruSharding.gru(a.node, "gru-" + i).tell(new GruEntity.Flush(flushed.getRef()));
                flushed.receiveMessage(TestNode.WAIT);
                GruEntity.Ran r = ran.receiveMessage(TestNode.WAIT);
                assertThat(r.error()).isNull();
                assertThat(r.gru()).isEqualTo("gru-" + i);
                assertThat(r.instructions()).isEqualTo(2_000);
                assertThat(r.hostFaults()).as("the fresh region is faulted in on the device's node").isPositive();
                assertThat(r.staleReads()).isZero();
                assertThat(r.deviceFlushes()).as("the region's munmap flushed the device").isPositive();
                checked += r.checkedReads();
                hosts.add(r.node());
            }
            assertThat(checked).as("reads checked against the golden copy").isPositive();
            assertThat(hosts).as("devices on more than one node").hasSizeGreaterThan(1);

            String gone = c.node.hostPort();
            c.close();
            a.await(() -> a.node.seesUp(2), "C is gone");
            Set<String> after = new HashSet<>();
            for (int i = 0; i < DEVICES; i++) {
                GruSharding.gru(a.node, "gru-" + i).tell(new GruEntity.Run(500, 100 + i, ran.getRef()));
                GruEntity.Ran r = ran.receiveMessage(Duration.ofSeconds(30));
                assertThat(r.error()).isNull();
                assertThat(r.staleReads()).isZero();
                after.add(r.node());
            }
            assertThat(after).doesNotContain(gone);
            assertThat(a.audit().problems()).isEmpty();
            assertThat(b.audit().problems()).isEmpty();
            a.assertClean();
            b.assertClean();
        } finally {
            TestNode.closeAll(c, b, a);
        }
    }
}
