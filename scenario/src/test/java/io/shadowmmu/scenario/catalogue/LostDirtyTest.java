package io.shadowmmu.scenario.catalogue;

import io.shadowmmu.testkit.junit.ShadowTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.kvm.Spte;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code LOST_DIRTY} against a real host, a real KVM MMU and the real oracle. Guest RAM is a shared file mapping
 * (memory-backend-file, share=on). A guest read fault maps the clean page writable (the host PTE is writable), the
 * guest writes through the spte (its dirty bit, nothing on the host side), then reclaim unmaps the page and evicts it.
 * KVM reports the page dirty in its ack; the host must write it back. The broken host drops the report: the page
 * leaves the cache clean, the guest's write is lost (I6), and reading the file back shows the old contents.
 */
class LostDirtyTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING");

    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NONE", "LOST_DIRTY"})
    void aPageWrittenThroughASecondaryMappingIsWrittenBackBeforeItIsReclaimed(Variant variant) {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "4m", "variant", variant.name()));
        CoherenceOracle oracle = new CoherenceOracle(8);
        HostContext host = HostContext.create(settings, oracle);
        ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));
        TestProbe<HostCommand.ProcessSpawned> spawned = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess("qemu", spawned.getRef()));
        HostCommand.ProcessSpawned vmm = spawned.receiveMessage();
        TestProbe<HostCommand.FileCreated> created = kit.createTestProbe();
        hostActor.tell(new HostCommand.CreateFile("guest-ram", 4096, created.getRef()));
        MemFile file = created.receiveMessage().file();
        TestProbe<MmResult> results = kit.createTestProbe();
        vmm.process().tell(new MmCommand.Mmap(0, 4096, Protection.READ_WRITE, VmaKind.FILE_SHARED, file, 0,
                results.getRef()));
        long hva = ((MmResult.Done) results.receiveMessage()).value();

        KvmView view = new KvmView(true, 1, 7_100_001);
        ActorRef<KvmCommand> kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", vmm.process(), vmm.mm(),
                List.of(new Memslot(0, 0, 1, hva, false)), view, host.memory(), oracle, 0, variant)));
        TestProbe<KvmCommand.FaultReply> fault = kit.createTestProbe();
        kvm.tell(new KvmCommand.TdpFault(0, 0, false, fault.getRef()));
        assertThat(fault.receiveMessage(Duration.ofSeconds(5))).isInstanceOf(KvmCommand.Resolved.class);
        long spte = view.lookup(0, 0);
        assertThat(Spte.writable(spte)).as("a read fault on a writable clean page maps it writable").isTrue();
        // The guest stores through the spte: hardware sets its dirty bit, the host PTE stays clean.
        assertThat(view.markUsed(0, 0, spte, true)).isTrue();
        int pfn = Spte.pfn(spte);
        host.memory().write(pfn, 0, 77);

        // Reclaim: unmap the file page from the VMM (KVM zaps and reports it dirty), then evict it from the cache.
        TestProbe<MmCommand.PressureDone> unmapped = kit.createTestProbe();
        vmm.process().tell(new MmCommand.UnmapFilePages(file, 0, 1, unmapped.getRef()));
        assertThat(unmapped.receiveMessage(Duration.ofSeconds(5)).done()).isTrue();
        assertThat(file.evictIfUnused(0, pfn, 1)).as("only the page cache held the page").isTrue();
        host.memory().put(pfn); // the cache's reference, as the reclaimer drops it

        vmm.process().tell(new MmCommand.Access(hva, false, 0, results.getRef()));
        long readBack = ((MmResult.Done) results.receiveMessage()).value();
        if (variant == Variant.NONE) {
            assertThat(readBack).as("the guest's write reached the file").isEqualTo(77);
            assertThat(oracle.violations()).isEmpty();
        } else {
            assertThat(readBack).as("the guest's write is lost").isZero();
            assertThat(oracle.count(Invariant.I6)).isEqualTo(1);
            assertThat(oracle.violations().get(0).agentName()).contains("kvm vm");
        }
    }
}
