package io.shadowmmu.kvm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** KvmMmu over a real host process: TDP faults, aliased memslots, shadow paging with trapped page-table writes. */
class KvmMmuHostTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static final class Host {
        final HostContext context = HostContext.create(Settings.withOverrides(Map.of("host.memory", "8m")),
                CoherenceEvents.NONE);
        final ActorRef<HostCommand> actor = kit.spawn(HostActor.create(context));
        final ActorRef<MmCommand> qemu;
        final long mmId;
        final long ram;

        Host(long guestPages) {
            TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
            actor.tell(new HostCommand.SpawnProcess("qemu", p.getRef()));
            HostCommand.ProcessSpawned s = p.receiveMessage();
            qemu = s.process();
            mmId = s.mm();
            TestProbe<MmResult> r = kit.createTestProbe();
            qemu.tell(new MmCommand.Mmap(0, guestPages * 4096, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                    r.getRef()));
            ram = ((MmResult.Done) r.receiveMessage()).value();
        }

        ActorRef<KvmCommand> kvm(KvmView view, List<Memslot> slots) {
            ActorRef<KvmCommand> kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", qemu, mmId, slots, view,
                    context.memory(), CoherenceEvents.NONE, 0)));
            kit.createTestProbe().awaitAssert(() -> {
                assertThat(view.grant()).isNotNull();
                return null;
            });
            return kvm;
        }

        MmResult call(java.util.function.Function<ActorRef<MmResult>, MmCommand> m) {
            TestProbe<MmResult> r = kit.createTestProbe();
            qemu.tell(m.apply(r.getRef()));
            return r.receiveMessage(Duration.ofSeconds(5));
        }
    }

    @Test
    void aliasedMemslotsAtDifferentGuestAddressesAreBothZappedByOneHostInvalidation() {
        Host h = new Host(16);
        KvmView view = new KvmView(true, 200);
        ActorRef<KvmCommand> kvm = h.kvm(view, List.of(new Memslot(0, 0, 16, h.ram, false),
                new Memslot(1, 100, 16, h.ram, false)));
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        kvm.tell(new KvmCommand.TdpFault(0, 5L << 12, true, r.getRef()));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        kvm.tell(new KvmCommand.TdpFault(0, 105L << 12, false, r.getRef()));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(Spte.pfn(view.lookup(0, 5L << 12))).as("one host frame behind both gfns")
                .isEqualTo(Spte.pfn(view.lookup(0, 105L << 12)));
        assertThat(h.call(m -> new MmCommand.MadviseDontneed(h.ram + 5 * 4096, 4096, m)).ok()).isTrue();
        assertThat(view.lookup(0, 5L << 12)).isZero();
        assertThat(view.lookup(0, 105L << 12)).isZero();
        assertThat(view.lookup(0, 4L << 12)).as("not the neighbours").isZero();
    }

    @Test
    void dirtyLoggingRecordsGuestWrites() {
        Host h = new Host(16);
        KvmView view = new KvmView(true, 16);
        ActorRef<KvmCommand> kvm = h.kvm(view, List.of(new Memslot(0, 0, 16, h.ram, false)));
        TestProbe<KvmCommand.DirtyLog> log = kit.createTestProbe();
        kvm.tell(new KvmCommand.EnableDirtyLog(0, log.getRef()));
        assertThat(log.receiveMessage().count()).isZero();
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        kvm.tell(new KvmCommand.TdpFault(0, 3L << 12, false, r.getRef()));
        r.receiveMessage();
        assertThat(Spte.writable(view.lookup(0, 3L << 12))).as("read faults map read-only while logging").isFalse();
        kvm.tell(new KvmCommand.TdpFault(0, 3L << 12, true, r.getRef()));
        r.receiveMessage();
        kvm.tell(new KvmCommand.GetDirtyLog(0, log.getRef()));
        KvmCommand.DirtyLog first = log.receiveMessage();
        assertThat(first.count()).isEqualTo(1);
        assertThat(first.isDirty(3)).isTrue();
        assertThat(Spte.writable(view.lookup(0, 3L << 12))).as("protected again").isFalse();
        kvm.tell(new KvmCommand.GetDirtyLog(0, log.getRef()));
        assertThat(log.receiveMessage().count()).isZero();
    }

    @Test
    void shadowPagingWalksGuestPageTablesAndATrappedGuestPageTableWriteZaps() {
        Host h = new Host(64);
        KvmView view = new KvmView(false, 64);
        ActorRef<KvmCommand> kvm = h.kvm(view, List.of(new Memslot(0, 0, 64, h.ram, false)));
        long cr3 = 1L << 12;                   // root table in gfn 1, then gfns 2, 3, 4 for the lower levels
        long gva = 0x40_0000L;                 // indexes 0, 0, 2, 0
        TestProbe<KvmCommand.GuestWritten> w = kit.createTestProbe();
        kvm.tell(new KvmCommand.WriteGuest(
                new long[] {cr3, 2L << 12, (3L << 12) + 2 * 8, 4L << 12},
                new long[] {Pte.make(2, true), Pte.make(3, true), Pte.make(4, true), Pte.make(10, true)},
                w.getRef()));
        assertThat(w.receiveMessage().ok()).isTrue();

        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        kvm.tell(new KvmCommand.ShadowFault(0, cr3, gva + 0x18, true, r.getRef()));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        long spte = view.lookup(cr3, gva);
        TestProbe<PageReply> gup = kit.createTestProbe();
        h.qemu.tell(new MmCommand.GetUserPage(h.ram + 10 * 4096, false, gup.getRef()));
        assertThat(Spte.pfn(spte)).as("gva -> gfn 10 -> its host frame")
                .isEqualTo(((PageReply.Granted) gup.receiveMessage()).pfn());

        kvm.tell(new KvmCommand.ShadowFault(0, cr3, 0x80_0000L, false, r.getRef()));
        assertThat(r.receiveMessage()).as("unmapped in the guest").isInstanceOf(KvmCommand.GuestPageFault.class);

        // The guest remaps the page to gfn 11: the store to its page table is trapped and the old entry zapped.
        kvm.tell(new KvmCommand.WriteGuest(new long[] {4L << 12}, new long[] {Pte.make(11, false)}, w.getRef()));
        assertThat(w.receiveMessage().trapped()).isEqualTo(1);
        assertThat(view.lookup(cr3, gva)).isZero();
        kvm.tell(new KvmCommand.ShadowFault(0, cr3, gva, true, r.getRef()));
        assertThat(r.receiveMessage()).as("now read-only in the guest")
                .isInstanceOf(KvmCommand.GuestPageFault.class);
        kvm.tell(new KvmCommand.ShadowFault(0, cr3, gva, false, r.getRef()));
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        h.qemu.tell(new MmCommand.GetUserPage(h.ram + 11 * 4096, false, gup.getRef()));
        assertThat(Spte.pfn(view.lookup(cr3, gva))).isEqualTo(((PageReply.Granted) gup.receiveMessage()).pfn());
        assertThat(Spte.writable(view.lookup(cr3, gva))).isFalse();
    }
}
