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
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Races decided message by message: a TestProbe plays the host mm (it answers get_user_pages and sends
 * notifications when the test says), TestProbes play the vCPUs.
 */
class KvmMmuRaceTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();
    static final long HVA = 0x4000_0000L;

    /** A VM whose host is a probe. */
    private static final class Vm {
        final TestProbe<MmCommand> host = kit.createTestProbe();
        final KvmView view = new KvmView(true, 64);
        final PhysicalMemory memory = new PhysicalMemory(64, ContentMode.TAGGED, true, CoherenceEvents.NONE);
        final ActorRef<KvmCommand> kvm;
        final ActorRef<MmuNotification> notifications;
        final TestProbe<NotifierReply> acks = kit.createTestProbe();

        Vm(long sequenceStart) {
            kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", host.getRef(), 1,
                    List.of(new Memslot(0, 0, 64, HVA, false)), view, memory, CoherenceEvents.NONE, sequenceStart)));
            MmCommand.Register reg = host.expectMessageClass(MmCommand.Register.class);
            notifications = reg.subscriber();
            reg.replyTo().tell(new MmCommand.Registered(1, 7, new AccessGrant(), List.of(), new PageTable()));
        }

        TestProbe<KvmCommand.FlushTlb> vcpu(int id) {
            TestProbe<KvmCommand.FlushTlb> p = kit.createTestProbe();
            kvm.tell(new KvmCommand.ConnectVcpu(id, p.getRef()));
            return p;
        }

        MmCommand.GetUserPage expectGup() {
            return host.expectMessageClass(MmCommand.GetUserPage.class, Duration.ofSeconds(5));
        }

        void start(long batch, long gfn) {
            notifications.tell(new MmuNotification.InvalidateStart(7, 1, batch,
                    List.of(new Range(HVA + gfn * 4096, HVA + (gfn + 1) * 4096)), InvalidationEvent.CLEAR, true,
                    acks.getRef()));
        }

        void end(long batch, long gfn) {
            notifications.tell(new MmuNotification.InvalidateEnd(7, 1, batch,
                    List.of(new Range(HVA + gfn * 4096, HVA + (gfn + 1) * 4096))));
        }

        /** Installs gfn -> pfn through a plain fault. */
        void install(long gfn, int pfn, boolean write) {
            TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
            kvm.tell(new KvmCommand.TdpFault(0, gfn << 12, write, r.getRef()));
            MmCommand.GetUserPage g = expectGup();
            g.replyTo().tell(new PageReply.Granted(g.va(), pfn, 1, true));
            assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        }
    }

    @ParameterizedTest(name = "sequence starting at {0}")
    @ValueSource(longs = {0L, Long.MAX_VALUE - 1, -2L})
    void aFaultRacingAnInvalidationNeverInstallsTheRevokedFrame(long sequenceStart) {
        Vm vm = new Vm(sequenceStart);
        TestProbe<KvmCommand.FaultReply> reply = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 5 << 12, false, reply.getRef()));
        MmCommand.GetUserPage first = vm.expectGup();
        assertThat(first.va()).isEqualTo(HVA + 5 * 4096);
        // The host revokes the page while the answer to the fault is in flight.
        vm.start(1, 5);
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        vm.end(1, 5);
        first.replyTo().tell(new PageReply.Granted(first.va(), 11, 1, false)); // the stale frame
        MmCommand.GetUserPage second = vm.expectGup();
        second.replyTo().tell(new PageReply.Granted(second.va(), 12, 3, false));
        KvmCommand.FaultReply r = reply.receiveMessage();
        assertThat(r).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(((KvmCommand.Resolved) r).retries()).isEqualTo(1);
        long spte = vm.view.lookup(0, 5 << 12);
        assertThat(Spte.pfn(spte)).as("never the revoked pfn 11").isEqualTo(12);
        assertThat(Spte.generation(spte)).isEqualTo(3);
    }

    @Test
    void aFaultInsideAnInvalidationInProgressWaitsForItsEnd() {
        Vm vm = new Vm(0);
        vm.start(1, 9);
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        TestProbe<KvmCommand.FaultReply> reply = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 9 << 12, true, reply.getRef()));
        vm.host.expectNoMessage(Duration.ofMillis(100));
        vm.end(1, 9);
        MmCommand.GetUserPage g = vm.expectGup();
        g.replyTo().tell(new PageReply.Granted(g.va(), 20, 1, true));
        assertThat(reply.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
    }

    @Test
    void theHostIsAckedOnlyAfterEveryVcpuFlushedAndFlushesCoalesce() {
        Vm vm = new Vm(0);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        TestProbe<KvmCommand.FlushTlb> v1 = vm.vcpu(1);
        vm.install(3, 30, false);
        vm.install(4, 40, false);
        vm.start(1, 3);
        KvmCommand.FlushTlb f0 = v0.receiveMessage();
        KvmCommand.FlushTlb f1 = v1.receiveMessage();
        // A second invalidation while the first flush is in flight waits for the next round.
        vm.start(2, 4);
        f0.replyTo().tell(new KvmCommand.TlbFlushed(0, f0.flush()));
        vm.acks.expectNoMessage(Duration.ofMillis(100));
        f1.replyTo().tell(new KvmCommand.TlbFlushed(1, f1.flush()));
        NotifierReply.Ack first = vm.acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(first.batch()).isEqualTo(1);
        KvmCommand.FlushTlb g0 = v0.receiveMessage();
        KvmCommand.FlushTlb g1 = v1.receiveMessage();
        assertThat(g0.flush()).isGreaterThan(f0.flush());
        vm.acks.expectNoMessage(Duration.ofMillis(50));
        g0.replyTo().tell(new KvmCommand.TlbFlushed(0, g0.flush()));
        g1.replyTo().tell(new KvmCommand.TlbFlushed(1, g1.flush()));
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class).batch()).isEqualTo(2);
        assertThat(vm.view.lookup(0, 3 << 12)).isZero();
        assertThat(vm.view.lookup(0, 4 << 12)).isZero();
    }

    @Test
    void aGuestWriteThroughAnSpteReachesTheHostAsADirtyRange() {
        Vm vm = new Vm(0);
        vm.install(6, 60, true);
        long spte = vm.view.lookup(0, 6 << 12);
        assertThat(vm.view.markUsed(0, 6 << 12, spte, true)).isTrue();
        vm.start(1, 6);
        NotifierReply.Ack ack = vm.acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(ack.dirty()).containsExactly(new Range(HVA + 6 * 4096, HVA + 7 * 4096));
    }

    @Test
    void agingAnswersFromAccessedBits() {
        Vm vm = new Vm(0);
        vm.install(2, 21, false);
        TestProbe<NotifierReply> young = kit.createTestProbe();
        Range page = new Range(HVA + 2 * 4096, HVA + 3 * 4096);
        vm.notifications.tell(new MmuNotification.ClearYoung(7, 1, 1, page, young.getRef()));
        assertThat(((NotifierReply.YoungReport) young.receiveMessage()).young()).isFalse();
        vm.view.markUsed(0, 2 << 12, vm.view.lookup(0, 2 << 12), false);
        vm.notifications.tell(new MmuNotification.ClearYoung(7, 1, 2, page, young.getRef()));
        assertThat(((NotifierReply.YoungReport) young.receiveMessage()).young()).isTrue();
        vm.notifications.tell(new MmuNotification.TestYoung(7, 1, 3, page, young.getRef()));
        assertThat(((NotifierReply.YoungReport) young.receiveMessage()).young()).as("cleared").isFalse();
    }

    @Test
    void anAccessOutsideGuestMemoryIsAGuestFault() {
        Vm vm = new Vm(0);
        TestProbe<KvmCommand.FaultReply> reply = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 1000L << 12, false, reply.getRef()));
        assertThat(reply.receiveMessage()).isInstanceOf(KvmCommand.GuestFault.class);
    }

    @Test
    void aFencedVmDropsEverythingAndRegistersAgain() {
        Vm vm = new Vm(0);
        vm.install(1, 10, false);
        vm.notifications.tell(new MmuNotification.Fenced(7, 1, "deadline"));
        MmCommand.Register again = vm.host.expectMessageClass(MmCommand.Register.class);
        assertThat(vm.view.lookup(0, 1 << 12)).isZero();
        assertThat(vm.view.grant()).isNull();
        again.replyTo().tell(new MmCommand.Registered(1, 8, new AccessGrant(), List.of(), new PageTable()));
        TestProbe<KvmStats> stats = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.GetStats(stats.getRef()));
        assertThat(stats.receiveMessage().fences()).isEqualTo(1);
        assertThat(vm.view.grant()).isNotNull();
    }

    @Test
    void aFaultWhileFencedWaitsForTheNewRegistrationAndTheOldSubscriptionHoldsNothing() {
        Vm vm = new Vm(0);
        vm.notifications.tell(new MmuNotification.Fenced(7, 1, "deadline"));
        MmCommand.Register again = vm.host.expectMessageClass(MmCommand.Register.class);
        TestProbe<KvmCommand.FaultReply> reply = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 2 << 12, false, reply.getRef()));
        vm.host.expectNoMessage(Duration.ofMillis(100)); // parked: no host page may be asked for unregistered
        again.replyTo().tell(new MmCommand.Registered(1, 8, new AccessGrant(), List.of(), new PageTable()));
        MmCommand.GetUserPage g = vm.expectGup();
        g.replyTo().tell(new PageReply.Granted(g.va(), 22, 1, false));
        KvmCommand.FaultReply resolved = reply.receiveMessage();
        assertThat(resolved).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(((KvmCommand.Resolved) resolved).retries()).isZero();
        // A start for the fenced subscription is answered as done and zaps nothing of the new one.
        vm.start(5, 2);
        assertThat(vm.acks.receiveMessage()).isEqualTo(NotifierReply.Ack.clean(7, 5));
        assertThat(Spte.pfn(vm.view.lookup(0, 2 << 12))).isEqualTo(22);
    }
}
