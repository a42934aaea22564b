package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The race catalogue's STALE_INFLIGHT_FAULT (Robin Holt, 2008): A answers B's fault, the answer spends a while on
 * the interconnect (an injected delay on the fault-reply path), A invalidates the page meanwhile, B acks, A frees the
 * frame, and only then does the answer reach B. The correct importer sees that its sequence moved and faults again;
 * the broken one installs the answer and its next access reaches a freed frame, which A's oracle reports as I3.
 */
class StaleInflightFaultTest {
    private static final int ROUNDS = 3;
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        ClusterSettings cs = TestNode.clusterSettings(Duration.ofSeconds(5))
                .withFaultReplyDelay(Duration.ofMillis(150));
        TestNode[] nodes = TestNode.cluster(2, cs);
        a = nodes[0];
        b = nodes[1];
    }

    @AfterAll
    static void stop() {
        TestNode.closeAll(b, a);
    }

    @Test
    void theCorrectImporterRetriesAndTheBrokenOneIsCaught() {
        long before = a.oracle.total();
        Importer.Stats correct = race(Variant.NONE, "correct");
        assertThat(a.oracle.total()).as("violations without the variant").isEqualTo(before);
        assertThat(correct.staleReplies()).isGreaterThanOrEqualTo(ROUNDS);
        assertThat(correct.staleInstalled()).isZero();

        Importer.Stats broken = race(Variant.STALE_INFLIGHT_FAULT, "broken");
        assertThat(broken.staleInstalled()).isGreaterThanOrEqualTo(ROUNDS);
        assertThat(a.oracle.count(Invariant.I3)).as("I3 with the variant").isGreaterThanOrEqualTo(ROUNDS);
        assertThat(a.node.counters().staleAccesses.get()).isGreaterThanOrEqualTo(ROUNDS);
        assertThat(a.oracle.violations().get(0).describe()).contains("broken");
    }

    /** Each round: B faults page r, A answers slowly, A drops page r before the answer lands. */
    private Importer.Stats race(Variant variant, String name) {
        TestNode.Process p = a.spawnProcess("exporter-" + name, ROUNDS);
        for (int page = 0; page < ROUNDS; page++) {
            p.write(page, 0, 40 + page);
        }
        long segment = a.export(p, true);
        ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ZERO, "importer-" + name, variant);
        for (int page = 0; page < ROUNDS; page++) {
            var result = b.<AccessResult>probe();
            long answered = a.node.counters().faultsAnswered.get();
            imp.tell(new Importer.Access(page * TestNode.PAGE, false, 0, result.getRef()));
            a.await(() -> a.node.counters().faultsAnswered.get() > answered, "A answered the fault");
            // The answer is on the wire; the page goes away under it.
            assertThat(p.dontneed(page, 1)).isInstanceOf(MmResult.Done.class);
            AccessResult r = result.receiveMessage(TestNode.WAIT);
            if (variant == Variant.NONE) {
                // The retried fault maps the fresh zero page: current data.
                assertThat(r.ok()).as(r.refused()).isTrue();
                assertThat(r.value()).isZero();
            } else {
                assertThat(r.ok()).isFalse();
                assertThat(r.refused()).isEqualTo("stale translation");
            }
        }
        Importer.Stats stats = b.stats(imp);
        imp.tell(Importer.Detach.INSTANCE);
        return stats;
    }
}
