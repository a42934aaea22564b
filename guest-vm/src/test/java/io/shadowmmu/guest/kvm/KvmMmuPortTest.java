package io.shadowmmu.guest.kvm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.RecordingEvents;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.SequentialScan;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The adapter speaks the API of docs/kvm-shadow.md: a TestProbe stands in for KvmMmu. */
class KvmMmuPortTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    @Test
    void vcpusConnectAnswerRemoteFlushesAndTheKernelWritesThroughKvm() {
        TestProbe<KvmCommand> kvm = kit.createTestProbe();
        KvmView view = new KvmView(true, 256);
        PhysicalMemory memory = new PhysicalMemory(64, ContentMode.FULL, true, new RecordingEvents());
        ActorRef<GuestVm.Command> vm = kit.spawn(GuestVm.create(new GuestVm.Config("vm", AgentIds.next(),
                new KvmMmuPort(view, kvm.ref()), memory, new RecordingEvents(), 2, new TlbGeometry(8, 2), 100, 33,
                true)));

        // Both vCPUs connect for remote flushes.
        Set<Integer> connected = new HashSet<>();
        KvmCommand.ConnectVcpu c0 = kvm.expectMessageClass(KvmCommand.ConnectVcpu.class);
        KvmCommand.ConnectVcpu c1 = kvm.expectMessageClass(KvmCommand.ConnectVcpu.class);
        connected.add(c0.vcpu());
        connected.add(c1.vcpu());
        assertThat(connected).containsExactlyInAnyOrder(0, 1);

        // A remote TLB flush is answered in KVM's protocol with the vCPU's id and the flush number.
        c1.flushes().tell(new KvmCommand.FlushTlb(41, kvm.ref()));
        KvmCommand.TlbFlushed done = kvm.expectMessageClass(KvmCommand.TlbFlushed.class);
        assertThat(done.vcpu()).isEqualTo(c1.vcpu());
        assertThat(done.flush()).isEqualTo(41);

        // Every guest frame goes through the balloon and back, so the next page table lands on a used frame: the
        // guest kernel must clear it, through KVM, before the process exists.
        TestProbe<GuestVm.Ballooned> balloon = kit.createTestProbe();
        vm.tell(new GuestVm.InflateBalloon(256, balloon.ref()));
        vm.tell(new GuestVm.DeflateBalloon(balloon.receiveMessage().gfns()));
        TestProbe<GuestVm.Spawned> spawned = kit.createTestProbe();
        Region r = new Region(0x40_0000L, 4096);
        vm.tell(new GuestVm.Spawn("p", List.of(new GuestVma(r.base(), r.end(), true)),
                new SequentialScan(r, 1, 0, 8, 1), spawned.ref()));
        KvmCommand.WriteGuest w = kvm.expectMessageClass(KvmCommand.WriteGuest.class);
        assertThat(w.gpas()).hasSize(512);
        assertThat(w.values()).containsOnly(0L);
        spawned.expectNoMessage();
        w.replyTo().tell(new KvmCommand.GuestWritten(512, 0, null));
        GuestVm.Spawned p = spawned.receiveMessage();
        assertThat(p.pid()).isPositive();
        assertThat(w.gpas()[0]).isEqualTo(p.cr3());
    }

    @Test
    void withoutAGrantAVcpuUsesNoTranslationAndSendsNoExit() {
        TestProbe<KvmCommand> kvm = kit.createTestProbe();
        KvmView view = new KvmView(true, 256);
        PhysicalMemory memory = new PhysicalMemory(64, ContentMode.FULL, true, new RecordingEvents());
        ActorRef<GuestVm.Command> vm = kit.spawn(GuestVm.create(new GuestVm.Config("vm", AgentIds.next(),
                new KvmMmuPort(view, kvm.ref()), memory, new RecordingEvents(), 1, new TlbGeometry(8, 2), 100, 33,
                true)));
        kvm.expectMessageClass(KvmCommand.ConnectVcpu.class);
        TestProbe<GuestVm.Spawned> spawned = kit.createTestProbe();
        Region r = new Region(0x40_0000L, 4096);
        vm.tell(new GuestVm.Spawn("p", List.of(new GuestVma(r.base(), r.end(), true)),
                new SequentialScan(r, 10, 0, 8, 1), spawned.ref()));
        spawned.receiveMessage();
        vm.tell(new GuestVm.Run(kit.<io.shadowmmu.guest.vm.VmStats>createTestProbe().ref()));
        // KVM has not registered with the host (view.grant() is null): the vCPU waits instead of walking.
        kvm.expectNoMessage(java.time.Duration.ofMillis(200));
        TestProbe<io.shadowmmu.guest.vm.VmStats> stats = kit.createTestProbe();
        vm.tell(new GuestVm.GetStats(stats.ref()));
        io.shadowmmu.guest.vm.VmStats s = stats.receiveMessage();
        assertThat(s.accesses()).isZero();
        assertThat(s.total().fencedSlices()).isPositive();
    }
}
