package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRefResolver;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.vm.CrashingNode;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * VMs placed by sharding whose guest RAM is imported by ranges from segments of processes on node A: the guest's
 * accesses hit copies on the VM's node (no per-word remote access), A's page migration reaches every importing
 * node's KVM and brings the guest's writes back into A's frames, and when node C is killed (it never leaves) its
 * attachments are fenced by the node's loss, its VMs start again on A or B and read what had reached A, with A's
 * and B's audits exact and their oracles clean.
 */
class ImportedRamVmTest {
    private static final int VMS = 6;
    private static final int PAGES = 8;

    @Test
    void guestStateLivesInTheExporterAndSurvivesAKilledNode() {
        var cs = TestNode.clusterSettings(Duration.ofSeconds(2));
        TestNode a = TestNode.start(cs);
        TestNode b = TestNode.start(cs);
        TestNode c = TestNode.start(cs, NodeOptions.loopback(0, List.of()), CrashingNode.settings(TestNode.settings()));
        try {
            a.node.joinSelf();
            b.node.join(a.node);
            c.node.join(a.node);
            for (TestNode n : List.of(a, b, c)) {
                n.awaitUp(3);
            }
            // A holds every VM's guest RAM: one exported process per VM.
            String exporter = ActorRefResolver.get(a.node.system()).toSerializationFormat(a.node.exporter());
            Map<String, VmSharding.RamSource> ram = new HashMap<>();
            List<TestNode.Process> backing = new ArrayList<>();
            for (int i = 0; i < VMS; i++) {
                TestNode.Process p = a.spawnProcess("ram-vm-" + i, PAGES);
                backing.add(p);
                ram.put("vm-" + i, new VmSharding.RamSource(exporter, a.export(p, true)));
            }
            for (TestNode n : List.of(a, b, c)) {
                VmSharding.init(n.node, PAGES, ram::get, 4);
            }
            TestProbe<VmEntity.Touched> touched = a.probe();
            Map<String, String> placed = new HashMap<>();
            for (int i = 0; i < VMS; i++) {
                assertThat(touch(a, touched, i, 1, true, 100 + i).error()).isNull();
                VmEntity.Touched t = touch(a, touched, i, 1, false, 0);
                assertThat(t.value()).isEqualTo(100 + i);
                assertThat(t.fault()).as("a hit on the local copy").isFalse();
                placed.put(t.vm(), t.node());
            }
            String gone = c.node.hostPort();
            assertThat(new HashSet<>(placed.values())).as("VMs on C too").contains(gone);
            assertThat(a.node.counters().accesses.get()).as("no per-word remote access").isZero();
            assertThat(a.node.counters().pagesCopied.get()).isPositive();

            // A migrates every VM's RAM: each importing KVM is zapped, the guest's writes come back, then A copies.
            for (TestNode.Process p : backing) {
                TestProbe<MmResult> moved = a.probe();
                p.ref().tell(new MmCommand.MovePages(p.start(), PAGES * TestNode.PAGE, moved.getRef()));
                assertThat(moved.receiveMessage(TestNode.WAIT).ok()).isTrue();
            }
            for (int i = 0; i < VMS; i++) {
                assertThat(backing.get(i).read(1, 0)).as("vm-" + i + "'s write is in A's frame").isEqualTo(100 + i);
            }
            assertThat(a.node.counters().writtenBack.get()).isPositive();

            c.close(); // a crash: C never leaves
            TestProbe<Object> wait = a.probe();
            wait.awaitAssert(Duration.ofSeconds(60), Duration.ofMillis(100), () -> {
                assertThat(a.node.seesUp(2) && b.node.seesUp(2)).as("C downed and removed").isTrue();
                return null;
            });
            Set<String> after = new HashSet<>();
            for (int i = 0; i < VMS; i++) {
                VmEntity.Touched t = touchAgainUntilAnswered(a, touched, i);
                assertThat(t.error()).isNull();
                assertThat(t.value()).as("vm-" + i + " reads its RAM after the crash").isEqualTo(100 + i);
                after.add(t.node());
            }
            assertThat(after).doesNotContain(gone);
            assertThat(a.node.counters().fencedByNodeLoss.get()).as("C's attachments fenced by its loss")
                    .isPositive();
            assertThat(a.audit().problems()).isEmpty();
            assertThat(b.audit().problems()).isEmpty();
            a.assertClean();
            b.assertClean();
        } finally {
            TestNode.closeAll(c, b, a);
        }
    }

    /**
     * Sharding delivers at most once: a touch routed to the dead node's region before the coordinator saw it
     * terminate is lost, so a read is asked again until the VM answers.
     */
    private static VmEntity.Touched touchAgainUntilAnswered(TestNode from, TestProbe<VmEntity.Touched> probe,
                                                            int vm) {
        VmEntity.Touched[] answer = new VmEntity.Touched[1];
        probe.awaitAssert(Duration.ofSeconds(60), Duration.ofMillis(100), () -> {
            VmSharding.vm(from.node, "vm-" + vm).tell(new VmEntity.Touch(1, 0, false, 0, probe.getRef()));
            answer[0] = probe.receiveMessage(Duration.ofSeconds(5));
            return null;
        });
        return answer[0];
    }

    private static VmEntity.Touched touch(TestNode from, TestProbe<VmEntity.Touched> probe, int vm, long gfn,
                                          boolean write, long value) {
        VmSharding.vm(from.node, "vm-" + vm).tell(new VmEntity.Touch(gfn, 0, write, value, probe.getRef()));
        return probe.receiveMessage(Duration.ofSeconds(40));
    }
}
