package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Remote memory mapped by ranges: a miss on B copies a run of A's pages into B's frames in one message, hits then
 * touch only B's copy, and an invalidation on A makes B drop the copies and send back what it wrote before it acks,
 * so A's frames hold B's writes (and A's own writes to other words) before the mm goes on. Both nodes' audits and
 * oracles stay clean, fenced or not.
 */
class CopyImportTest {
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

    private static ActorRef<ToImporter> copying(long segment, Duration ackDelay, String name) {
        ActorRef<ToImporter> imp = b.node.spawn(Importer.copying(b.findExporter(a), segment,
                new Importer.Copying(b.node.hostActor(), b.node.host().memory(), 4), ackDelay, 1,
                Duration.ofMillis(20), Variant.NONE), name);
        b.awaitAttached(imp, 1);
        return imp;
    }

    private static MmResult mprotect(TestNode.Process p, int page, int count, Protection prot) {
        var r = a.<MmResult>probe();
        p.ref().tell(new MmCommand.Mprotect(p.start() + page * TestNode.PAGE, count * TestNode.PAGE, prot,
                r.getRef()));
        return r.receiveMessage(TestNode.WAIT);
    }

    @Test
    void aMissCopiesARangeAndHitsStayOnTheImportingNode() {
        TestNode.Process p = a.spawnProcess("exporter-1", 8);
        for (int page = 0; page < 8; page++) {
            p.write(page, 3, 1000 + page);
        }
        long segment = a.export(p, true);
        ActorRef<ToImporter> imp = copying(segment, Duration.ZERO, "copier-1");
        long remoteAccesses = a.node.counters().accesses.get();
        long copied = a.node.counters().pagesCopied.get();

        assertThat(b.access(imp, 3 * 8, false, 0).value()).isEqualTo(1000);
        // One fault brought the block of four pages.
        assertThat(b.stats(imp).faults()).isEqualTo(1);
        assertThat(b.stats(imp).entries()).isEqualTo(4);
        assertThat(a.node.counters().pagesCopied.get() - copied).isEqualTo(4);
        for (int page = 0; page < 4; page++) {
            assertThat(b.access(imp, page * TestNode.PAGE + 3 * 8, false, 0).value()).isEqualTo(1000 + page);
        }
        assertThat(b.access(imp, 6 * TestNode.PAGE + 3 * 8, false, 0).value()).isEqualTo(1006);
        Importer.Stats st = b.stats(imp);
        assertThat(st.faults()).isEqualTo(2);
        // Six reads: every one completed from B's copy (the two that missed, once their pages arrived).
        assertThat(st.hits()).isEqualTo(6);
        // No access crossed the network: the hits read B's own frames.
        assertThat(a.node.counters().accesses.get()).isEqualTo(remoteAccesses);
        // B's copies are page cache of B's host: its exact audit accounts for them.
        assertThat(b.audit().problems()).isEmpty();
        assertThat(b.audit().pageCache()).isGreaterThanOrEqualTo(8);
        a.assertClean();
        b.assertClean();
        imp.tell(Importer.Detach.INSTANCE);
    }

    @Test
    void anInvalidationBringsTheImportersWritesBackBeforeTheMmGoesOn() {
        TestNode.Process p = a.spawnProcess("exporter-2", 4);
        p.write(1, 6, 1);
        long segment = a.export(p, true);
        ActorRef<ToImporter> imp = copying(segment, Duration.ZERO, "copier-2");
        long cachedBefore = b.audit().pageCache();

        AccessResult w = b.access(imp, TestNode.PAGE + 5 * 8, true, 99);
        assertThat(w.ok()).as(w.refused()).isTrue();
        assertThat(b.access(imp, TestNode.PAGE + 5 * 8, false, 0).value()).isEqualTo(99);
        // Not there yet: the write sits in B's copy.
        assertThat(p.read(1, 5)).isZero();
        // A's process writes another word of the same page meanwhile: the write-back sends only what B changed.
        p.write(1, 6, 55);

        long writtenBefore = a.node.counters().writtenBack.get();
        assertThat(mprotect(p, 0, 4, Protection.READ)).isInstanceOf(MmResult.Done.class);
        assertThat(a.node.counters().writtenBack.get() - writtenBefore).isEqualTo(1);
        assertThat(p.read(1, 5)).isEqualTo(99);
        assertThat(p.read(1, 6)).isEqualTo(55);
        assertThat(b.stats(imp).entries()).isZero();
        assertThat(b.stats(imp).writtenBack()).isEqualTo(1);

        // Read-only now: B copies again and sees both writes; a write is refused.
        assertThat(b.access(imp, TestNode.PAGE + 6 * 8, false, 0).value()).isEqualTo(55);
        assertThat(b.access(imp, TestNode.PAGE + 5 * 8, true, 1).ok()).isFalse();
        assertThat(mprotect(p, 0, 4, Protection.READ_WRITE)).isInstanceOf(MmResult.Done.class);

        // Detach sends back what the copies wrote, too.
        assertThat(b.access(imp, 2 * TestNode.PAGE, true, 7).ok()).isTrue();
        imp.tell(Importer.Detach.INSTANCE);
        a.await(() -> p.read(2, 0) == 7, "the detached importer's write reached A");
        a.assertClean();
        b.assertClean();
        assertThat(a.audit().problems()).isEmpty();
        b.await(() -> b.audit().pageCache() <= cachedBefore, "B's copies are gone with the importer's file");
        assertThat(b.audit().problems()).isEmpty();
    }

    @Test
    void aFencedCopierDropsItsCopiesAndBothNodesAuditClean() {
        TestNode.Process p = a.spawnProcess("exporter-3", 4);
        p.write(0, 0, 11);
        long segment = a.export(p, true);
        // Acks after 3 s, past the 800 ms deadline.
        ActorRef<ToImporter> imp = copying(segment, Duration.ofSeconds(3), "copier-3");
        assertThat(b.access(imp, 0, false, 0).value()).isEqualTo(11);
        assertThat(b.access(imp, TestNode.PAGE, true, 5).ok()).isTrue();
        long fencedBefore = a.node.counters().fencedByDeadline.get();

        assertThat(p.dontneed(0, 4)).isInstanceOf(MmResult.Done.class);
        assertThat(a.node.counters().fencedByDeadline.get()).isEqualTo(fencedBefore + 1);
        b.awaitAttached(imp, 2);
        assertThat(b.stats(imp).fences()).isEqualTo(1);
        assertThat(b.stats(imp).entries()).isZero();
        // The fenced write is lost with the attachment; what B reads now is A's current (zero) page.
        assertThat(b.access(imp, TestNode.PAGE, false, 0).value()).isZero();
        assertThat(a.audit().problems()).isEmpty();
        assertThat(b.audit().problems()).isEmpty();
        a.assertClean();
        b.assertClean();
        imp.tell(Importer.Detach.INSTANCE);
    }
}
