package io.shadowmmu.scenario.catalogue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.kvm.Spte;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KVM's race-catalogue variants, each played message by message against the real oracle: a TestProbe is the host mm
 * (it frees the frame the moment it may, and reports its own PTE of the page, as a real mm does, so KVM's installs
 * are judged for I2 too), another is a vCPU whose TLB holds the translation. The correct protocol is clean; each
 * broken one is caught as I3.
 */
class KvmRaceCatalogueTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();
    static final long HVA = 0x4000_0000L;
    static final long VM_AGENT = 7_000_001;
    static final long HOST_AGENT = 7_000_002;
    static final long MM = 1;

    private static final class Vm {
        final CoherenceOracle oracle = new CoherenceOracle(8);
        final PhysicalMemory memory = new PhysicalMemory(16, ContentMode.TAGGED, true, oracle);
        final TestProbe<MmCommand> host = kit.createTestProbe();
        final KvmView view = new KvmView(true, 16, VM_AGENT);
        final ActorRef<KvmCommand> kvm;
        final ActorRef<MmuNotification> notifications;
        final TestProbe<NotifierReply> acks = kit.createTestProbe();

        Vm(Variant variant) {
            kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", host.getRef(), MM,
                    List.of(new Memslot(0, 0, 16, HVA, false)), view, memory, oracle, 0, variant)));
            MmCommand.Register reg = host.expectMessageClass(MmCommand.Register.class);
            notifications = reg.subscriber();
            reg.replyTo().tell(new MmCommand.Registered(1, 3, new AccessGrant(), List.of(), new PageTable()));
        }

        /** The host's PTE of the page now maps this frame. */
        int hostMaps(int pfn) {
            oracle.translationInstalled(HOST_AGENT, 0, MM, HVA, pfn, memory.generation(pfn), true);
            return pfn;
        }

        /** The host clears its PTE (before it notifies). */
        void hostUnmaps(int pfn, int generation) {
            oracle.translationRemoved(HOST_AGENT, 0, MM, HVA, pfn, generation);
        }

        void start(long batch) {
            notifications.tell(new MmuNotification.InvalidateStart(3, 1, batch,
                    List.of(new Range(HVA, HVA + 4096)), InvalidationEvent.UNMAP, true, acks.getRef()));
        }

        void end(long batch) {
            notifications.tell(new MmuNotification.InvalidateEnd(3, 1, batch, List.of(new Range(HVA, HVA + 4096))));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NONE", "NO_FAULT_RETRY"})
    void aGrantThatPredatesAnInvalidationIsNeverInstalled(Variant variant) {
        Vm vm = new Vm(variant);
        int pfn = vm.hostMaps(vm.memory.allocate(1, PhysicalMemory.FLAG_ANON));
        int gen = vm.memory.generation(pfn);
        TestProbe<KvmCommand.FaultReply> fault = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 0, false, fault.getRef()));
        MmCommand.GetUserPage gup = vm.host.expectMessageClass(MmCommand.GetUserPage.class);
        // The host revokes the page and frees the frame before its earlier answer arrives.
        vm.hostUnmaps(pfn, gen);
        vm.start(1);
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        vm.end(1);
        vm.memory.put(pfn);
        gup.replyTo().tell(new PageReply.Granted(gup.va(), pfn, gen, true));
        if (variant == Variant.NONE) {
            MmCommand.GetUserPage again = vm.host.expectMessageClass(MmCommand.GetUserPage.class);
            int fresh = vm.hostMaps(vm.memory.allocate(1, PhysicalMemory.FLAG_ANON));
            again.replyTo().tell(new PageReply.Granted(again.va(), fresh, vm.memory.generation(fresh), true));
            assertThat(fault.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
            assertThat(vm.oracle.violations()).isEmpty();
        } else {
            assertThat(fault.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
            assertThat(vm.oracle.count(Invariant.I3)).as("the stale grant was installed").isEqualTo(1);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NONE", "ACK_BEFORE_FLUSH"})
    void theHostIsAckedOnlyAfterTheVcpusDroppedWhatWasZapped(Variant variant) {
        Vm vm = new Vm(variant);
        TestProbe<KvmCommand.FlushTlb> vcpu = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.ConnectVcpu(0, vcpu.getRef()));
        int pfn = vm.hostMaps(vm.memory.allocate(1, PhysicalMemory.FLAG_ANON));
        TestProbe<KvmCommand.FaultReply> fault = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 0, false, fault.getRef()));
        MmCommand.GetUserPage gup = vm.host.expectMessageClass(MmCommand.GetUserPage.class);
        gup.replyTo().tell(new PageReply.Granted(gup.va(), pfn, vm.memory.generation(pfn), true));
        fault.receiveMessage();
        long spte = vm.view.lookup(0, 0);
        // The vCPU fills its TLB from the spte (cache 1 of the VM's agent).
        vm.oracle.translationInstalled(VM_AGENT, 1, 0, 0, Spte.pfn(spte), Spte.generation(spte), true);

        vm.hostUnmaps(pfn, vm.memory.generation(pfn));
        vm.start(1);
        if (variant == Variant.NONE) {
            KvmCommand.FlushTlb flush = vcpu.receiveMessage();
            vm.acks.expectNoMessage(java.time.Duration.ofMillis(100));
            vm.oracle.translationRemoved(VM_AGENT, 1, 0, 0, Spte.pfn(spte), Spte.generation(spte));
            flush.replyTo().tell(new KvmCommand.TlbFlushed(0, flush.flush()));
        }
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        vm.memory.put(pfn); // the host frees as soon as every subscriber acked
        if (variant == Variant.NONE) {
            assertThat(vm.oracle.violations()).isEmpty();
        } else {
            assertThat(vm.oracle.count(Invariant.I3)).as("freed under the vCPU's TLB entry").isEqualTo(1);
            assertThat(vm.oracle.violations().get(0).detail()).contains("cache 1");
        }
    }
}
