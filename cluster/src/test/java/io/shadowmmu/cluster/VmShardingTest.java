package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * VMs placed by Cluster Sharding on three nodes: each runs on the node its shard went to, with its guest RAM in that
 * node's memory (a first touch is a KVM fault there, the next a hit). When a node leaves, its VMs start again on the
 * others, and the remaining nodes' audits and oracles stay clean.
 */
class VmShardingTest {
    private static final int VMS = 9;

    @Test
    void vmsSpreadOverTheNodesAndMoveWhenOneLeaves() {
        TestNode[] nodes = TestNode.cluster(3, TestNode.clusterSettings(Duration.ofSeconds(2)));
        TestNode a = nodes[0];
        TestNode b = nodes[1];
        TestNode c = nodes[2];
        try {
            for (TestNode n : nodes) {
                VmSharding.init(n.node, 8);
            }
            TestProbe<VmEntity.Touched> touched = a.probe();
            Set<String> hosts = new HashSet<>();
            for (int i = 0; i < VMS; i++) {
                VmSharding.vm(a.node, "vm-" + i).tell(new VmEntity.Touch(1, 0, true, 100 + i, touched.getRef()));
                VmEntity.Touched t = touched.receiveMessage(TestNode.WAIT);
                assertThat(t.error()).isNull();
                assertThat(t.fault()).as("the first touch faults in the VM's RAM").isTrue();
                hosts.add(t.node());
            }
            assertThat(hosts).as("VMs on more than one node").hasSizeGreaterThan(1);
            for (int i = 0; i < VMS; i++) {
                VmSharding.vm(a.node, "vm-" + i).tell(new VmEntity.Touch(1, 0, false, 0, touched.getRef()));
                VmEntity.Touched t = touched.receiveMessage(TestNode.WAIT);
                assertThat(t.value()).isEqualTo(100 + i);
                assertThat(t.fault()).as("a hit in KVM's table").isFalse();
            }

            String gone = c.node.hostPort();
            c.close();
            a.await(() -> a.node.seesUp(2), "C is gone");
            Set<String> after = new HashSet<>();
            for (int i = 0; i < VMS; i++) {
                VmSharding.vm(a.node, "vm-" + i).tell(new VmEntity.Touch(1, 0, false, 0, touched.getRef()));
                VmEntity.Touched t = touched.receiveMessage(Duration.ofSeconds(30));
                assertThat(t.error()).isNull();
                after.add(t.node());
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
