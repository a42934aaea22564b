package io.shadowmmu.kvm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** KVM answers a fault from the host's published page table when the PTE is there, and only then. */
class HostPteFastPathTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();
    static final long HVA = 0x4000_0000L;
    static final long PAGE = 4096;

    private static final class Vm {
        final TestProbe<MmCommand> host = kit.createTestProbe();
        final KvmView view = new KvmView(true, 256);
        final PhysicalMemory memory = new PhysicalMemory(64, ContentMode.FULL, true, CoherenceEvents.NONE);
        final PageTable hostTable = new PageTable();
        final ActorRef<KvmCommand> kvm;
        final ActorRef<MmuNotification> notifications;
        final TestProbe<NotifierReply> acks = kit.createTestProbe();
        final TestProbe<KvmCommand.FlushTlb> vcpu = kit.createTestProbe();

        Vm() {
            kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", host.getRef(), 1,
                    List.of(new Memslot(0, 0, 64, HVA, false)), view, memory, CoherenceEvents.NONE, 0)));
            MmCommand.Register reg = host.expectMessageClass(MmCommand.Register.class);
            notifications = reg.subscriber();
            reg.replyTo().tell(new MmCommand.Registered(1, 7, new AccessGrant(), List.of(), hostTable));
            kvm.tell(new KvmCommand.ConnectVcpu(0, vcpu.getRef()));
        }

        KvmCommand.FaultReply fault(long gfn, boolean write, TestProbe<KvmCommand.FaultReply> r) {
            kvm.tell(new KvmCommand.TdpFault(0, gfn << 12, write, r.getRef()));
            return null;
        }
    }

    @Test
    void aPresentHostPteIsInstalledWithoutAskingTheHostAndMarkedAccessedAndDirty() {
        Vm vm = new Vm();
        int pfn = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
        vm.hostTable.set(HVA + 3 * PAGE, Pte.make(pfn, true));
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.fault(3, true, r);
        KvmCommand.FaultReply reply = r.receiveMessage();
        assertThat(reply).isEqualTo(new KvmCommand.Resolved(0, 3 << 12));
        long spte = vm.view.lookup(0, 3 << 12);
        assertThat(Spte.pfn(spte)).isEqualTo(pfn);
        assertThat(Spte.writable(spte)).isTrue();
        assertThat(Spte.generation(spte)).isEqualTo(vm.memory.generation(pfn));
        long pte = vm.hostTable.get(HVA + 3 * PAGE);
        assertThat(Pte.isAccessed(pte) && Pte.isDirty(pte)).as("the host sees the page used and written").isTrue();
        vm.host.expectNoMessage(Duration.ofMillis(100));
    }

    @Test
    void aMissingOrReadOnlyHostPteTakesTheHostRoundTrip() {
        Vm vm = new Vm();
        int pfn = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.fault(4, false, r); // no host PTE
        MmCommand.GetUserPage g = vm.host.expectMessageClass(MmCommand.GetUserPage.class);
        assertThat(g.va()).isEqualTo(HVA + 4 * PAGE);
        g.replyTo().tell(new PageReply.Granted(g.va(), pfn, vm.memory.generation(pfn), false));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);

        vm.hostTable.set(HVA + 5 * PAGE, Pte.make(pfn, false)); // read-only (copy-on-write, say): a write must ask
        vm.fault(5, true, r);
        MmCommand.GetUserPage w = vm.host.expectMessageClass(MmCommand.GetUserPage.class);
        assertThat(w.write()).isTrue();
        assertThat(w.va()).isEqualTo(HVA + 5 * PAGE);
    }

    @Test
    void noFastInstallWhileAnInvalidationOfThePageRunsAndALaterStartZapsAFastInstall() {
        Vm vm = new Vm();
        int pfn = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
        vm.hostTable.set(HVA + 6 * PAGE, Pte.make(pfn, true));
        Range range = new Range(HVA + 6 * PAGE, HVA + 7 * PAGE);
        vm.notifications.tell(new MmuNotification.InvalidateStart(7, 1, 1, List.of(range), InvalidationEvent.CLEAR,
                true, vm.acks.getRef()));
        vm.acks.expectMessageClass(NotifierReply.Ack.class); // nothing mapped yet: acked at once
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.fault(6, false, r);
        r.expectNoMessage(Duration.ofMillis(100)); // parked, although the PTE is still there
        assertThat(Spte.present(vm.view.lookup(0, 6 << 12))).isFalse();
        vm.notifications.tell(new MmuNotification.InvalidateEnd(7, 1, 1, List.of(range)));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(Spte.pfn(vm.view.lookup(0, 6 << 12))).isEqualTo(pfn);

        // The host starts revoking it (its PTE still in place): the start zaps the spte and acks after the flush.
        vm.notifications.tell(new MmuNotification.InvalidateStart(7, 1, 2, List.of(range), InvalidationEvent.CLEAR,
                true, vm.acks.getRef()));
        KvmCommand.FlushTlb flush = vm.vcpu.expectMessageClass(KvmCommand.FlushTlb.class);
        assertThat(Spte.present(vm.view.lookup(0, 6 << 12))).isFalse();
        vm.acks.expectNoMessage(Duration.ofMillis(100));
        flush.replyTo().tell(new KvmCommand.TlbFlushed(0, flush.flush()));
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
    }
}
