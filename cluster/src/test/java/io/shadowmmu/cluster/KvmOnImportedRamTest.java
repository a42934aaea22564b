package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.ImportedRam;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.kvm.Spte;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A VM's KVM on node B whose guest RAM is memory of a process on node A, mapped by ranges: a TDP fault brings A's
 * pages into B's page cache and maps them into B's sptes; the guest's stores go to B's frames with no message; when
 * A's mm invalidates, B's process unmaps the pages (KVM zaps its sptes and flushes), B writes the guest's changes
 * back, and only then acks, so A's frames hold the guest's writes when A's mprotect returns.
 */
class KvmOnImportedRamTest {
    private static final int PAGES = 8;
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        TestNode[] nodes = TestNode.cluster(2, TestNode.clusterSettings(Duration.ofSeconds(2)));
        a = nodes[0];
        b = nodes[1];
    }

    @AfterAll
    static void stop() {
        TestNode.closeAll(b, a);
    }

    @Test
    void kvmOnBMapsCopiesOfAsPagesAndTheGuestsWritesReachAWhenAInvalidates() {
        TestNode.Process exporter = a.spawnProcess("exporter", PAGES);
        for (int page = 0; page < PAGES; page++) {
            exporter.write(page, 1, 500 + page);
        }
        long segment = a.export(exporter, true);
        ActorRef<ToImporter> imp = b.node.spawn(Importer.copying(b.findExporter(a), segment,
                new Importer.Copying(b.node.hostActor(), b.node.host().memory(), 4), Duration.ZERO, 1,
                Duration.ofMillis(20), Variant.NONE), "guest-ram");
        b.awaitAttached(imp, 1);
        TestProbe<Importer.FileAnswer> file = b.probe();
        imp.tell(new Importer.GetFile(file.getRef()));
        MemFile ramFile = file.receiveMessage(TestNode.WAIT).file();
        assertThat(ramFile).isNotNull();

        // B's "QEMU" maps the imported RAM MAP_SHARED; KVM reaches it through ImportedRam.
        TestProbe<HostCommand.ProcessSpawned> spawned = b.probe();
        b.node.hostActor().tell(new HostCommand.SpawnProcess("qemu", spawned.getRef()));
        HostCommand.ProcessSpawned qemu = spawned.receiveMessage(TestNode.WAIT);
        TestProbe<MmResult> mapped = b.probe();
        qemu.process().tell(new MmCommand.Mmap(0, PAGES * TestNode.PAGE, Protection.READ_WRITE,
                VmaKind.FILE_SHARED, ramFile, 0, mapped.getRef()));
        long hva = ((MmResult.Done) mapped.receiveMessage(TestNode.WAIT)).value();
        ActorRef<MmCommand> ram = b.node.spawn(ImportedRam.create(qemu.process(), imp, hva,
                PAGES * TestNode.PAGE), "guest-ram-door");
        PhysicalMemory bMemory = b.node.host().memory();
        KvmView view = new KvmView(true, PAGES);
        ActorRef<KvmCommand> kvm = b.node.spawn(KvmMmu.create(new KvmMmu.Config("vm", ram, qemu.mm(),
                List.of(new Memslot(0, 0, PAGES, hva, false)), view, bMemory, bMemory.events(), 0)), "kvm");
        b.await(() -> view.grant() != null, "KVM registered with B's process");
        long remoteAccesses = a.node.counters().accesses.get();

        TestProbe<KvmCommand.FaultReply> fault = b.probe();
        kvm.tell(new KvmCommand.TdpFault(0, 2L << 12, false, fault.getRef()));
        assertThat(fault.receiveMessage(TestNode.WAIT)).isInstanceOf(KvmCommand.Resolved.class);
        int pfn2 = Spte.pfn(view.lookup(0, 2L << 12));
        assertThat(bMemory.read(pfn2, 1)).as("B's frame holds A's data").isEqualTo(502);
        assertThat(b.stats(imp).faults()).isEqualTo(1);

        kvm.tell(new KvmCommand.TdpFault(0, 3L << 12, true, fault.getRef()));
        assertThat(fault.receiveMessage(TestNode.WAIT)).isInstanceOf(KvmCommand.Resolved.class);
        long spte3 = view.lookup(0, 3L << 12);
        assertThat(Spte.writable(spte3)).isTrue();
        // The guest's store after a TLB hit: B's frame, no message to anyone.
        bMemory.write(Spte.pfn(spte3), 7, 4242);
        assertThat(b.stats(imp).faults()).as("page 3 came with page 2's range").isEqualTo(1);
        assertThat(a.node.counters().accesses.get()).as("no per-word remote access").isEqualTo(remoteAccesses);
        assertThat(exporter.read(3, 7)).isZero();

        // A write-protects the range: B's KVM is zapped and flushed, the guest's write goes back, then A proceeds.
        TestProbe<MmResult> prot = a.probe();
        exporter.ref().tell(new MmCommand.Mprotect(exporter.start(), PAGES * TestNode.PAGE, Protection.READ,
                prot.getRef()));
        assertThat(prot.receiveMessage(TestNode.WAIT)).isInstanceOf(MmResult.Done.class);
        assertThat(view.lookup(0, 3L << 12)).as("zapped on B").isZero();
        assertThat(view.lookup(0, 2L << 12)).as("zapped on B").isZero();
        assertThat(exporter.read(3, 7)).as("the guest's write reached A").isEqualTo(4242);

        // The guest reads the page again: fetched anew (read-only now), with its own write in it.
        kvm.tell(new KvmCommand.TdpFault(0, 3L << 12, false, fault.getRef()));
        assertThat(fault.receiveMessage(TestNode.WAIT)).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(bMemory.read(Spte.pfn(view.lookup(0, 3L << 12)), 7)).isEqualTo(4242);
        assertThat(b.stats(imp).faults()).isEqualTo(2);

        a.assertClean();
        b.assertClean();
        assertThat(a.audit().problems()).isEmpty();
        assertThat(b.audit().problems()).isEmpty();
        imp.tell(Importer.Detach.INSTANCE);
    }
}
