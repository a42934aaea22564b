package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.importer.ImportedRam;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
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
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The exporting node goes away while a VM on the importing node runs on its memory: the importer is fenced by the
 * node's removal, unmaps the copies from its process (KVM's sptes are zapped) and drops them, and the importing
 * node's audit and oracle stay clean.
 */
class ImportedRamNodeLossTest {
    private static final int PAGES = 4;

    @Test
    void losingTheExportingNodeZapsKvmAndDropsTheCopies() {
        TestNode[] nodes = TestNode.cluster(2, TestNode.clusterSettings(Duration.ofSeconds(2)));
        TestNode a = nodes[0];
        TestNode b = nodes[1];
        try {
            TestNode.Process exporter = a.spawnProcess("exporter", PAGES);
            exporter.write(1, 0, 77);
            long segment = a.export(exporter, true);
            ActorRef<ToImporter> imp = b.node.spawn(Importer.copying(b.findExporter(a), segment,
                    new Importer.Copying(b.node.hostActor(), b.node.host().memory(), PAGES), Duration.ZERO, 1,
                    Duration.ofMillis(20), Variant.NONE), "guest-ram");
            b.awaitAttached(imp, 1);
            TestProbe<Importer.FileAnswer> file = b.probe();
            imp.tell(new Importer.GetFile(file.getRef()));
            TestProbe<HostCommand.ProcessSpawned> spawned = b.probe();
            b.node.hostActor().tell(new HostCommand.SpawnProcess("qemu", spawned.getRef()));
            HostCommand.ProcessSpawned qemu = spawned.receiveMessage(TestNode.WAIT);
            TestProbe<MmResult> mapped = b.probe();
            qemu.process().tell(new MmCommand.Mmap(0, PAGES * TestNode.PAGE, Protection.READ_WRITE,
                    VmaKind.FILE_SHARED, file.receiveMessage(TestNode.WAIT).file(), 0, mapped.getRef()));
            long hva = ((MmResult.Done) mapped.receiveMessage(TestNode.WAIT)).value();
            ActorRef<MmCommand> ram = b.node.spawn(ImportedRam.create(qemu.process(), imp, hva,
                    PAGES * TestNode.PAGE), "guest-ram-door");
            PhysicalMemory memory = b.node.host().memory();
            KvmView view = new KvmView(true, PAGES);
            ActorRef<KvmCommand> kvm = b.node.spawn(KvmMmu.create(new KvmMmu.Config("vm", ram, qemu.mm(),
                    List.of(new Memslot(0, 0, PAGES, hva, false)), view, memory, memory.events(), 0)), "kvm");
            b.await(() -> view.grant() != null, "KVM registered with B's process");
            TestProbe<KvmCommand.FaultReply> fault = b.probe();
            kvm.tell(new KvmCommand.TdpFault(0, 1L << 12, true, fault.getRef()));
            assertThat(fault.receiveMessage(TestNode.WAIT)).isInstanceOf(KvmCommand.Resolved.class);
            assertThat(view.lookup(0, 1L << 12)).isNotZero();
            assertThat(b.stats(imp).entries()).isEqualTo(PAGES);

            a.close();
            b.await(() -> b.stats(imp).fences() == 1 && b.stats(imp).entries() == 0,
                    "B's importer was fenced by A's removal and dropped its copies");
            assertThat(view.lookup(0, 1L << 12)).as("KVM's spte zapped").isZero();
            assertThat(b.audit().problems()).isEmpty();
            b.assertClean();
        } finally {
            TestNode.closeAll(b, a);
        }
    }
}
