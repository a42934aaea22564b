package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two nodes on loopback: a process on A exports a range, an importer on B attaches it, faults across the network,
 * reads and writes A's frames by message, and is invalidated as a sleeping subscriber (A frees only after B's ack).
 */
class CrossNodeImportTest {
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        TestNode[] nodes = TestNode.cluster(2, TestNode.clusterSettings(Duration.ofMillis(800)));
        a = nodes[0];
        b = nodes[1];
    }

    @AfterAll
    static void stop() {
        TestNode.closeAll(b, a);
    }

    @Test
    void nodesListenOnLoopbackWithTheSplitBrainResolverAndWithoutJavaSerialization() {
        assertThat(a.node.hostPort()).startsWith("127.0.0.1:");
        assertThat(b.node.hostPort()).startsWith("127.0.0.1:");
        var config = a.node.system().settings().config();
        assertThat(config.getString("akka.cluster.downing-provider-class"))
                .isEqualTo("akka.cluster.sbr.SplitBrainResolverProvider");
        assertThat(config.getBoolean("akka.actor.allow-java-serialization")).isFalse();
        assertThat(config.getString("akka.actor.serialization-bindings.\"io.shadowmmu.cluster.protocol.CrossNode\""))
                .isEqualTo("jackson-cbor");
    }

    @Test
    void importerReadsAndWritesExporterMemoryAndIsInvalidatedBeforeFramesAreFreed() {
        TestNode.Process p = a.spawnProcess("exporter-1", 8);
        for (int page = 0; page < 8; page++) {
            p.write(page, 3, 1000 + page);
        }
        long segment = a.export(p, true);
        ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ZERO, "importer-1", Variant.NONE);

        for (int page = 0; page < 8; page++) {
            AccessResult r = b.access(imp, page * TestNode.PAGE + 3 * 8, false, 0);
            assertThat(r.ok()).as(r.refused()).isTrue();
            assertThat(r.value()).isEqualTo(1000 + page);
        }
        Importer.Stats afterReads = b.stats(imp);
        assertThat(afterReads.faults()).isEqualTo(8);
        assertThat(afterReads.entries()).isEqualTo(8);
        // The second read of a page is a hit in the importer table: no fault.
        assertThat(b.access(imp, 3 * 8, false, 0).value()).isEqualTo(1000);
        assertThat(b.stats(imp).faults()).isEqualTo(8);

        // A remote write lands in A's frame: A's own process reads it.
        assertThat(b.access(imp, 2 * TestNode.PAGE + 16, true, 77).ok()).isTrue();
        assertThat(p.read(2, 2)).isEqualTo(77);

        // A drops pages 0-3: the madvise completes only after B dropped them and acked across the network.
        long sentBefore = a.node.counters().invalidationsSent.get();
        assertThat(p.dontneed(0, 4)).isInstanceOf(MmResult.Done.class);
        assertThat(a.node.counters().invalidationsSent.get()).isGreaterThan(sentBefore);
        assertThat(b.stats(imp).entries()).isEqualTo(4);
        // B sees current data: the dropped pages read as fresh zero pages, the others as before.
        assertThat(b.access(imp, 3 * 8, false, 0).value()).isZero();
        assertThat(b.access(imp, 5 * TestNode.PAGE + 3 * 8, false, 0).value()).isEqualTo(1005);
        assertThat(a.node.counters().ackLatencyMicros().getTotalCount()).isPositive();

        // Outside the segment: a refusal, not a crash.
        AccessResult outside = b.access(imp, 8 * TestNode.PAGE, false, 0);
        assertThat(outside.ok()).isFalse();
        assertThat(outside.refused()).contains("outside segment");

        a.assertClean();
        assertThat(a.audit().problems()).isEmpty();
        imp.tell(Importer.Detach.INSTANCE);
    }

    @Test
    void invalidationsToOneImporterAreCoalescedWhileOneIsInFlight() {
        TestNode.Process p = a.spawnProcess("exporter-2", 16);
        for (int page = 0; page < 16; page++) {
            p.write(page, 0, page + 1);
        }
        long segment = a.export(p, false);
        // A sleeping importer: each ack comes 150 ms after the invalidation.
        ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ofMillis(150), "importer-2", Variant.NONE);
        for (int page = 0; page < 16; page++) {
            assertThat(b.access(imp, page * TestNode.PAGE, false, 0).value()).isEqualTo(page + 1);
        }
        long sent = a.node.counters().invalidationsSent.get();
        long batches = a.node.counters().batches.get();
        long coalesced = a.node.counters().coalesced.get();

        // Sixteen madvise calls at once, one page each: sixteen batches for this importer.
        var replies = a.<MmResult>probe();
        for (int page = 0; page < 16; page++) {
            p.ref().tell(new MmCommand.MadviseDontneed(p.start() + page * TestNode.PAGE, TestNode.PAGE,
                    replies.getRef()));
        }
        List<MmResult> done = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            done.add(replies.receiveMessage(TestNode.WAIT));
        }
        assertThat(done).allMatch(r -> r instanceof MmResult.Done);
        long messages = a.node.counters().invalidationsSent.get() - sent;
        assertThat(a.node.counters().batches.get() - batches).isEqualTo(16);
        // The first batch goes alone; the rest queue behind it and travel together: far fewer than 16 messages.
        assertThat(messages).isBetween(2L, 4L);
        assertThat(a.node.counters().coalesced.get() - coalesced).isGreaterThanOrEqualTo(12);
        assertThat(a.node.counters().maxInFlight.get()).isEqualTo(1);
        assertThat(a.node.counters().fencedByDeadline.get()).isZero();
        assertThat(b.stats(imp).entries()).isZero();
        a.assertClean();
        imp.tell(Importer.Detach.INSTANCE);
    }

    @Test
    void anImporterThatMissesTheDeadlineIsFencedAndReattachesToCurrentData() {
        TestNode.Process p = a.spawnProcess("exporter-3", 4);
        p.write(1, 0, 11);
        long segment = a.export(p, true);
        // Acks after 3 s, far beyond the 800 ms deadline.
        ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ofSeconds(3), "importer-3", Variant.NONE);
        assertThat(b.access(imp, TestNode.PAGE, false, 0).value()).isEqualTo(11);
        long fencedBefore = a.node.counters().fencedByDeadline.get();
        long started = System.nanoTime();

        assertThat(p.dontneed(1, 1)).isInstanceOf(MmResult.Done.class);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(took).isLessThan(Duration.ofMillis(2_500));
        assertThat(a.node.counters().fencedByDeadline.get()).isEqualTo(fencedBefore + 1);
        assertThat(a.audit().problems()).isEmpty();
        a.assertClean();

        // B hears of the fence, drops everything and attaches again; it sees what A wrote since.
        p.write(1, 0, 12);
        b.awaitAttached(imp, 2);
        assertThat(b.access(imp, TestNode.PAGE, false, 0).value()).isEqualTo(12);
        assertThat(b.stats(imp).fences()).isEqualTo(1);
        a.assertClean();
        imp.tell(Importer.Detach.INSTANCE);
    }

    @Test
    void whenTheExportingProcessExitsTheImporterIsReleasedAndTheSegmentIsGone() {
        TestNode.Process p = a.spawnProcess("exporter-4", 2);
        p.write(0, 0, 5);
        long segment = a.export(p, true);
        ActorRef<ToImporter> imp = b.importer(a, segment, Duration.ZERO, "importer-4", Variant.NONE);
        assertThat(b.access(imp, 0, false, 0).value()).isEqualTo(5);

        var exited = a.<MmResult>probe();
        p.ref().tell(new MmCommand.Exit(exited.getRef()));
        assertThat(exited.receiveMessage(TestNode.WAIT)).isInstanceOf(MmResult.Done.class);
        var result = b.<AccessResult>probe();
        result.awaitAssert(TestNode.WAIT, Duration.ofMillis(50), () -> {
            imp.tell(new Importer.Access(0, false, 0, result.getRef()));
            AccessResult r = result.receiveMessage();
            assertThat(r.ok()).isFalse();
            assertThat(r.refused()).contains("is gone").contains("no segment " + segment);
            return null;
        });
        assertThat(b.stats(imp).entries()).isZero();
        a.assertClean();
        assertThat(a.audit().problems()).isEmpty();
    }
}
