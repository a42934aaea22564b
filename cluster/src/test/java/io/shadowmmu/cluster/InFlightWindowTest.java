package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The exporter's {@code maxInFlight} counter is measured from sends and acks: with a window of two Invalidates per
 * importer and a sleeping importer it reads 2, which a counter that assumes one message in flight cannot show.
 * (CrossNodeImportTest asserts 1 for the default window.) One node importing its own export keeps it quick.
 */
class InFlightWindowTest {

    @Test
    void aWindowOfTwoIsMeasuredAsTwo() {
        ClusterSettings cs = TestNode.clusterSettings(Duration.ofSeconds(5)).withInvalidationsInFlight(2);
        try (TestNode n = TestNode.start(cs)) {
            n.node.joinSelf();
            n.awaitUp(1);
            TestNode.Process p = n.spawnProcess("exporter", 8);
            for (int page = 0; page < 8; page++) {
                p.write(page, 0, page + 1);
            }
            long segment = n.export(p, false);
            // The local exporter directly (the receptionist lists it under the local address, without host:port).
            ActorRef<ToImporter> imp = n.node.spawn(Importer.create(n.node.exporter(), segment,
                    Duration.ofMillis(200), Duration.ofMillis(20), Variant.NONE), "importer");
            n.awaitAttached(imp, 1);
            for (int page = 0; page < 8; page++) {
                assertThat(n.access(imp, page * TestNode.PAGE, false, 0).value()).isEqualTo(page + 1);
            }
            assertThat(n.node.counters().maxInFlight.get()).isZero();

            var replies = n.<MmResult>probe();
            for (int page = 0; page < 8; page++) {
                p.ref().tell(new MmCommand.MadviseDontneed(p.start() + page * TestNode.PAGE, TestNode.PAGE,
                        replies.getRef()));
            }
            for (int i = 0; i < 8; i++) {
                assertThat(replies.receiveMessage(TestNode.WAIT)).isInstanceOf(MmResult.Done.class);
            }
            assertThat(n.node.counters().maxInFlight.get()).isEqualTo(2);
            assertThat(n.node.counters().fencedByDeadline.get()).isZero();
            assertThat(n.stats(imp).entries()).isZero();
            n.assertClean();
            imp.tell(Importer.Detach.INSTANCE);
        }
    }
}
