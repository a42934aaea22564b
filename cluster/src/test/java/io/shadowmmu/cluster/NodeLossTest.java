package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.host.HostCommand;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three nodes on loopback. B's node goes away while an invalidation waits for B's ack: A fences B's attachment when
 * the node is removed (well before the ack deadline), frees the frames, keeps serving C, and the oracle stays clean.
 * A new node in B's place attaches again and sees current data.
 */
class NodeLossTest {

    @Test
    void exporterFencesAnImporterWhoseNodeLeavesMidInvalidation() {
        // The ack deadline is long: the fence must come from the node's removal, not from the timer.
        Duration deadline = Duration.ofSeconds(15);
        TestNode[] nodes = TestNode.cluster(3, TestNode.clusterSettings(deadline));
        TestNode a = nodes[0];
        TestNode b = nodes[1];
        TestNode c = nodes[2];
        TestNode b2 = null;
        try {
            TestNode.Process p = a.spawnProcess("exporter", 8);
            for (int page = 0; page < 8; page++) {
                p.write(page, 1, 500 + page);
            }
            long segment = a.export(p, true);
            // B never acks in time (it sleeps 60 s per invalidation); C acks at once.
            ActorRef<ToImporter> onB = b.importer(a, segment, Duration.ofSeconds(60), "importer-b", Variant.NONE);
            ActorRef<ToImporter> onC = c.importer(a, segment, Duration.ZERO, "importer-c", Variant.NONE);
            for (int page = 0; page < 8; page++) {
                assertThat(b.access(onB, page * TestNode.PAGE + 8, false, 0).value()).isEqualTo(500 + page);
                assertThat(c.access(onC, page * TestNode.PAGE + 8, false, 0).value()).isEqualTo(500 + page);
            }
            long freeBefore = freeFrames(a);

            // A drops pages 0-3. C acks; B holds its ack, so the madvise waits.
            var reply = a.<MmResult>probe();
            p.ref().tell(new MmCommand.MadviseDontneed(p.start(), 4 * TestNode.PAGE, reply.getRef()));
            a.await(() -> a.node.counters().acks.get() >= 1 && a.node.counters().invalidationsSent.get() >= 2,
                    "both importers were sent the invalidation and C acked");
            reply.expectNoMessage(Duration.ofMillis(300));

            // B's node goes away mid-invalidation.
            long started = System.nanoTime();
            b.close();
            MmResult r = reply.receiveMessage(deadline);
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(r).isInstanceOf(MmResult.Done.class);
            assertThat(took).isLessThan(deadline);
            assertThat(a.node.counters().fencedByNodeLoss.get()).isEqualTo(1);
            assertThat(a.node.counters().fencedByDeadline.get()).isZero();
            // The four frames went back to the free list (nobody else held them).
            a.await(() -> freeFrames(a) == freeBefore + 4, "the invalidated frames were freed");
            assertThat(a.audit().problems()).isEmpty();

            // A keeps serving C, with current data.
            p.write(5, 1, 9_005);
            assertThat(c.access(onC, 5 * TestNode.PAGE + 8, false, 0).value()).isEqualTo(9_005);
            assertThat(c.access(onC, 8, false, 0).value()).isZero();

            // A new node in B's place joins, attaches again and sees current data.
            b2 = TestNode.start(TestNode.clusterSettings(deadline));
            b2.node.join(a.node);
            b2.awaitUp(3);
            ActorRef<ToImporter> again = b2.importer(a, segment, Duration.ZERO, "importer-b", Variant.NONE);
            assertThat(b2.access(again, 5 * TestNode.PAGE + 8, false, 0).value()).isEqualTo(9_005);
            assertThat(b2.access(again, 2 * TestNode.PAGE + 8, false, 0).value()).isZero();
            assertThat(b2.access(again, 6 * TestNode.PAGE + 8, false, 0).value()).isEqualTo(506);
            a.assertClean();
        } finally {
            TestNode.closeAll(b2, c, a);
        }
    }

    private static long freeFrames(TestNode node) {
        var stats = node.<HostCommand.HostStats>probe();
        node.node.hostActor().tell(new HostCommand.GetHostStats(stats.getRef()));
        return stats.receiveMessage(TestNode.WAIT).framesFree();
    }
}
