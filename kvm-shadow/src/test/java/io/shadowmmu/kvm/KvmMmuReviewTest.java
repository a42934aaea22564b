package io.shadowmmu.kvm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.Behaviors;
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

/**
 * Further contract checks of KvmMmu, message by message, with probes for the host mm and the vCPUs. The "Finding"
 * tests reproduce the races of DECISIONS.md D21 and D56; they failed before those were fixed.
 */
class KvmMmuReviewTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();
    static final long HVA = 0x4000_0000L;
    static final long PAGE = 4096;

    /** A VM whose host mm is a probe; {@code hostTable} is the host page table handed over at registration. */
    private static final class Vm {
        final TestProbe<MmCommand> host = kit.createTestProbe();
        final KvmView view;
        final PhysicalMemory memory = new PhysicalMemory(64, ContentMode.FULL, true, CoherenceEvents.NONE);
        final PageTable hostTable = new PageTable();
        final ActorRef<KvmCommand> kvm;
        final ActorRef<MmuNotification> notifications;
        final TestProbe<NotifierReply> acks = kit.createTestProbe();

        Vm(boolean tdp, List<Memslot> slots) {
            view = new KvmView(tdp, 256);
            kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", host.getRef(), 1, slots, view, memory,
                    CoherenceEvents.NONE, 0)));
            MmCommand.Register reg = host.expectMessageClass(MmCommand.Register.class);
            notifications = reg.subscriber();
            reg.replyTo().tell(new MmCommand.Registered(1, 7, new AccessGrant(), List.of(), hostTable));
        }

        Vm(boolean tdp) {
            this(tdp, List.of(new Memslot(0, 0, 64, HVA, false)));
        }

        TestProbe<KvmCommand.FlushTlb> vcpu(int id) {
            TestProbe<KvmCommand.FlushTlb> p = kit.createTestProbe();
            kvm.tell(new KvmCommand.ConnectVcpu(id, p.getRef()));
            return p;
        }

        MmCommand.GetUserPage expectGup() {
            return host.expectMessageClass(MmCommand.GetUserPage.class, Duration.ofSeconds(5));
        }

        void start(long batch, Range range) {
            notifications.tell(new MmuNotification.InvalidateStart(7, 1, batch, List.of(range),
                    InvalidationEvent.CLEAR, true, acks.getRef()));
        }

        void end(long batch, Range range) {
            notifications.tell(new MmuNotification.InvalidateEnd(7, 1, batch, List.of(range)));
        }

        /** TDP: installs gfn -> pfn through a fault answered by the probe host. */
        void install(long gfn, int pfn, boolean write) {
            TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
            kvm.tell(new KvmCommand.TdpFault(0, gfn << 12, write, r.getRef()));
            MmCommand.GetUserPage g = expectGup();
            g.replyTo().tell(new PageReply.Granted(g.va(), pfn, 1, true));
            assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        }

        KvmStats stats() {
            TestProbe<KvmStats> p = kit.createTestProbe();
            kvm.tell(new KvmCommand.GetStats(p.getRef()));
            return p.receiveMessage();
        }
    }

    static Range page(long hva) {
        return new Range(hva, hva + PAGE);
    }

    @Test
    void anAliasAtANonZeroHostOffsetIsZappedAndItsDirtyPageReportedInHostUnits() {
        // slot 0: gfn 0..63 -> HVA; slot 1: gfn 200..203 -> HVA + 8 pages (an alias of gfns 8..11).
        Vm vm = new Vm(true, List.of(new Memslot(0, 0, 64, HVA, false), new Memslot(1, 200, 4, HVA + 8 * PAGE,
                false)));
        vm.install(9, 30, false);
        vm.install(201, 30, true);
        vm.install(200, 31, false);
        vm.install(10, 32, false);
        long alias = vm.view.lookup(0, 201L << 12);
        assertThat(vm.view.markUsed(0, 201L << 12, alias, true)).isTrue();

        vm.start(1, page(HVA + 9 * PAGE));
        NotifierReply.Ack ack = vm.acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(ack.dirty()).as("dirty in host virtual addresses, not guest frames")
                .containsExactly(page(HVA + 9 * PAGE));
        assertThat(vm.view.lookup(0, 9L << 12)).isZero();
        assertThat(vm.view.lookup(0, 201L << 12)).isZero();
        assertThat(vm.view.lookup(0, 200L << 12)).as("gfn 200 is hva page 8: untouched").isNotZero();
        assertThat(vm.view.lookup(0, 10L << 12)).as("the neighbour").isNotZero();
        assertThat(vm.stats().zapped()).isEqualTo(2);
    }

    @Test
    void aReleaseDropsEverySpteAndAcksAfterTheFlush() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        vm.install(1, 10, true);
        vm.install(2, 11, false);
        vm.notifications.tell(new MmuNotification.Release(7, 1, 5, vm.acks.getRef()));
        KvmCommand.FlushTlb f = v0.receiveMessage();
        vm.acks.expectNoMessage(Duration.ofMillis(50));
        assertThat(vm.view.lookup(0, 1L << 12)).isZero();
        assertThat(vm.view.lookup(0, 2L << 12)).isZero();
        f.replyTo().tell(new KvmCommand.TlbFlushed(0, f.flush()));
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class).batch()).isEqualTo(5);
    }

    @Test
    void invalidationsThatHitNothingLiveAreNotCountedAsHits() {
        Vm vm = new Vm(true);
        vm.install(3, 10, false);
        vm.start(1, page(HVA + 40 * PAGE));
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        vm.end(1, page(HVA + 40 * PAGE));
        vm.start(2, page(HVA + 3 * PAGE));
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        vm.end(2, page(HVA + 3 * PAGE));
        KvmStats s = vm.stats();
        assertThat(s.invalidations()).isEqualTo(2);
        assertThat(s.invalidationsHitLive()).isEqualTo(1);
    }

    /**
     * Finding 1. The first invalidation zapped the page and its flush is still in flight; a second one over the same
     * page finds no spte and acks at once, although a vCPU may still hold the translation in its TLB: the host may
     * then free the frame under it (I3).
     */
    @Test
    void aSecondInvalidationOfAPageWhoseFlushIsPendingWaitsForThatFlush() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        vm.install(4, 40, false);
        vm.start(1, page(HVA + 4 * PAGE)); // e.g. mprotect
        KvmCommand.FlushTlb f = v0.receiveMessage();
        vm.end(1, page(HVA + 4 * PAGE));
        vm.start(2, page(HVA + 4 * PAGE)); // e.g. munmap: its frames are freed once everybody acked
        vm.acks.expectNoMessage(Duration.ofMillis(100));
        f.replyTo().tell(new KvmCommand.TlbFlushed(0, f.flush()));
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class).batch()).isEqualTo(1);
        // The second ack may ride the round that covered the zap, or wait for one more round: serve it if asked.
        NotifierReply second;
        try {
            second = vm.acks.receiveMessage(Duration.ofMillis(300));
        } catch (AssertionError notYet) {
            KvmCommand.FlushTlb g = v0.receiveMessage();
            g.replyTo().tell(new KvmCommand.TlbFlushed(0, g.flush()));
            second = vm.acks.receiveMessage();
        }
        assertThat(second).isInstanceOf(NotifierReply.Ack.class);
        assertThat(((NotifierReply.Ack) second).batch()).isEqualTo(2);
    }

    /**
     * Finding 2. KVM_GET_DIRTY_LOG protects the slot, waits for the flush, and only then takes the bitmap. A write
     * fault served while the flush is in flight installs a writable spte and sets the bit that this very call then
     * clears: the next writes through that spte never reach the following log.
     */
    @Test
    void aWriteFaultedWhileTheDirtyLogIsCollectedIsInTheNextLog() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        TestProbe<KvmCommand.DirtyLog> log = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.EnableDirtyLog(0, log.getRef()));
        KvmCommand.FlushTlb f = v0.receiveMessage();
        f.replyTo().tell(new KvmCommand.TlbFlushed(0, f.flush()));
        log.receiveMessage();

        vm.kvm.tell(new KvmCommand.GetDirtyLog(0, log.getRef()));
        KvmCommand.FlushTlb g = v0.receiveMessage();
        vm.install(3, 30, true); // a write fault served while the log's flush is in flight
        g.replyTo().tell(new KvmCommand.TlbFlushed(0, g.flush()));
        log.receiveMessage();
        // The guest writes the page again through the spte it was given.
        long spte = vm.view.lookup(0, 3L << 12);
        if (Spte.writable(spte)) {
            vm.view.markUsed(0, 3L << 12, spte, true); // no exit: nothing but the spte sees this write
        } else {
            vm.install(3, 30, true);
        }
        vm.kvm.tell(new KvmCommand.GetDirtyLog(0, log.getRef()));
        KvmCommand.FlushTlb h = v0.receiveMessage();
        h.replyTo().tell(new KvmCommand.TlbFlushed(0, h.flush()));
        assertThat(log.receiveMessage().isDirty(3)).isTrue();
    }

    /**
     * Finding 3. A guest page-table write zaps the shadow entries it covered; when such an entry was dirty (the guest
     * wrote through it), nothing tells the host: neither the next invalidation's ack nor the host PTE carries the
     * write, so reclaim may treat the page as clean (I6).
     */
    @Test
    void aDirtyShadowEntryZappedByAGuestPageTableWriteStillReachesTheHost() {
        Vm vm = new Vm(false);
        // Guest page tables in gfns 1..4 (root in gfn 1), mapping gva 0 -> gfn 10; all backed by host frames.
        int[] pfnOf = new int[16];
        for (int gfn = 1; gfn <= 10; gfn++) {
            pfnOf[gfn] = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
            vm.hostTable.set(HVA + gfn * PAGE, Pte.make(pfnOf[gfn], true));
        }
        vm.memory.write(pfnOf[1], 0, Pte.make(2, true));
        vm.memory.write(pfnOf[2], 0, Pte.make(3, true));
        vm.memory.write(pfnOf[3], 0, Pte.make(4, true));
        vm.memory.write(pfnOf[4], 0, Pte.make(10, true));
        long cr3 = 1L << 12;
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.ShadowFault(0, cr3, 0, true, r.getRef()));
        // The data page's host PTE is present and writable: KVM installs it without asking the host (fast path).
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(Spte.pfn(vm.view.lookup(cr3, 0))).isEqualTo(pfnOf[10]);
        long spte = vm.view.lookup(cr3, 0);
        assertThat(vm.view.markUsed(cr3, 0, spte, true)).isTrue();

        // The guest unmaps gva 0: a trapped store to its leaf table.
        TestProbe<KvmCommand.GuestWritten> w = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.WriteGuest(new long[] {4L << 12}, new long[] {0}, w.getRef()));
        assertThat(w.receiveMessage().trapped()).isEqualTo(1);
        assertThat(vm.view.lookup(cr3, 0)).isZero();

        // Reclaim looks at gfn 10 now.
        vm.start(1, page(HVA + 10 * PAGE));
        NotifierReply.Ack ack = vm.acks.expectMessageClass(NotifierReply.Ack.class);
        boolean hostPteDirty = Pte.isDirty(vm.hostTable.get(HVA + 10 * PAGE));
        boolean frameDirty = vm.memory.hasFlag(pfnOf[10], PhysicalMemory.FLAG_DIRTY);
        assertThat(hostPteDirty || frameDirty || ack.dirty().contains(page(HVA + 10 * PAGE)))
                .as("the guest's write through the zapped entry is known to the host").isTrue();
    }

    /**
     * Finding 5. Two vCPUs fault on one page at once; the first answer installs a writable entry and the guest writes
     * through it (only the spte's dirty bit records that), then the second answer installs over it. The overwrite
     * dropped the dirty bit, so the next invalidation reported the page clean and reclaim could drop the write (I6).
     */
    @Test
    void aRacingFaultThatInstallsOverADirtyEntryKeepsItsDirtyBit() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FaultReply> first = kit.createTestProbe();
        TestProbe<KvmCommand.FaultReply> second = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.TdpFault(0, 5L << 12, false, first.getRef()));
        vm.kvm.tell(new KvmCommand.TdpFault(1, 5L << 12, false, second.getRef()));
        MmCommand.GetUserPage g1 = vm.expectGup();
        MmCommand.GetUserPage g2 = vm.expectGup();
        g1.replyTo().tell(new PageReply.Granted(g1.va(), 50, 1, true));
        assertThat(first.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        long spte = vm.view.lookup(0, 5L << 12);
        assertThat(Spte.writable(spte)).as("a read fault maps a writable host page writable").isTrue();
        assertThat(vm.view.markUsed(0, 5L << 12, spte, true)).as("the guest writes").isTrue();
        g2.replyTo().tell(new PageReply.Granted(g2.va(), 50, 1, true));
        assertThat(second.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);

        vm.start(1, page(HVA + 5 * PAGE));
        NotifierReply.Ack ack = vm.acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(ack.dirty()).as("the write through the first entry is reported").containsExactly(page(HVA + 5 * PAGE));
    }

    /**
     * Finding 4. A guest frame once used as a page table stays write-protected after the guest freed that table and
     * reused the frame as data: every write exit is answered Resolved with a read-only entry again, forever.
     */
    @Test
    void aFormerGuestPageTableFrameReusedAsDataBecomesWritable() {
        Vm vm = new Vm(false);
        int[] pfnOf = new int[16];
        for (int gfn = 1; gfn <= 12; gfn++) {
            pfnOf[gfn] = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
            vm.hostTable.set(HVA + gfn * PAGE, Pte.make(pfnOf[gfn], true));
        }
        // Process A: root gfn 1 -> 2 -> 3 -> leaf table gfn 4 -> data gfn 10.
        vm.memory.write(pfnOf[1], 0, Pte.make(2, true));
        vm.memory.write(pfnOf[2], 0, Pte.make(3, true));
        vm.memory.write(pfnOf[3], 0, Pte.make(4, true));
        vm.memory.write(pfnOf[4], 0, Pte.make(10, true));
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.ShadowFault(0, 1L << 12, 0, false, r.getRef()));
        // Host PTE present: installed without a host round trip (fast path).
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);

        // Process A exits; its tables are freed and process B (root gfn 5 -> 6 -> 7 -> leaf 8) maps gfn 4 as data.
        TestProbe<KvmCommand.GuestWritten> w = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.WriteGuest(new long[] {1L << 12, 5L << 12, 6L << 12, 7L << 12, 8L << 12},
                new long[] {0, Pte.make(6, true), Pte.make(7, true), Pte.make(8, true), Pte.make(4, true)},
                w.getRef()));
        assertThat(w.receiveMessage().ok()).isTrue();
        for (int attempt = 0; attempt < 3; attempt++) {
            vm.kvm.tell(new KvmCommand.ShadowFault(0, 5L << 12, 0, true, r.getRef()));
            // gfn 4's host PTE is present and writable: installed without a host round trip (fast path).
            assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
            assertThat(Spte.pfn(vm.view.lookup(5L << 12, 0))).isEqualTo(pfnOf[4]);
            if (Spte.writable(vm.view.lookup(5L << 12, 0))) {
                return;
            }
        }
        throw new AssertionError("a write to gva 0 of process B (gfn 4, now data) never got a writable entry");
    }

    /**
     * A vCPU that stops while a remote flush waits for it holds no translation any more: the ack must not wait for the
     * host's deadline (and a fence of the whole VM), and later rounds no longer include it.
     */
    @Test
    void aVcpuThatStopsDuringAFlushDoesNotHoldTheAckBack() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        TestProbe<KvmCommand.FlushTlb> v1 = vm.vcpu(1);
        vm.install(6, 20, false);
        vm.start(1, page(HVA + 6 * PAGE));
        KvmCommand.FlushTlb f0 = v0.receiveMessage();
        v1.receiveMessage();
        f0.replyTo().tell(new KvmCommand.TlbFlushed(0, f0.flush()));
        vm.acks.expectNoMessage(Duration.ofMillis(50));
        v1.stop();
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class).batch()).isEqualTo(1);
        vm.end(1, page(HVA + 6 * PAGE));

        vm.install(7, 21, false);
        vm.start(2, page(HVA + 7 * PAGE));
        KvmCommand.FlushTlb g0 = v0.receiveMessage();
        g0.replyTo().tell(new KvmCommand.TlbFlushed(0, g0.flush()));
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class).batch()).isEqualTo(2);
        assertThat(vm.stats().flushes()).isEqualTo(2);
    }

    /** As above, with the vCPU connected the way guest-vm does it: through a message adapter of the vCPU actor. */
    @Test
    void aVcpuConnectedThroughAMessageAdapterIsForgottenWhenItsActorStops() {
        Vm vm = new Vm(true);
        TestProbe<KvmCommand.FlushTlb> v0 = vm.vcpu(0);
        TestProbe<String> connected = kit.createTestProbe();
        kit.spawn(Behaviors.<String>setup(ctx -> {
            vm.kvm.tell(new KvmCommand.ConnectVcpu(1, ctx.messageAdapter(KvmCommand.FlushTlb.class, f -> "flush")));
            connected.getRef().tell("connected"); // the connect is in KVM's mailbox before anything the test sends
            return Behaviors.receiveMessage(m -> Behaviors.stopped()); // dies instead of answering its first flush
        }));
        connected.expectMessage("connected");
        vm.install(8, 22, false);
        vm.start(1, page(HVA + 8 * PAGE));
        KvmCommand.FlushTlb f0 = v0.receiveMessage();
        f0.replyTo().tell(new KvmCommand.TlbFlushed(0, f0.flush()));
        assertThat(vm.acks.expectMessageClass(NotifierReply.Ack.class, Duration.ofSeconds(5)).batch()).isEqualTo(1);
    }

    /**
     * Shadow mode keeps one cached root per guest CR3: a CR3 switch selects the other process's entries, a trapped
     * guest page-table write zaps only the entries built from that table, and a host invalidation of a frame reaches
     * every root that maps it (through the rmap).
     */
    @Test
    void eachGuestCr3HasItsOwnShadowRootAndZapsStayWithinTheirScope() {
        Vm vm = new Vm(false);
        int[] pfnOf = new int[16];
        for (int gfn = 1; gfn <= 11; gfn++) {
            pfnOf[gfn] = vm.memory.allocate(1, PhysicalMemory.FLAG_ANON);
            vm.hostTable.set(HVA + gfn * PAGE, Pte.make(pfnOf[gfn], true));
        }
        // Process A: root gfn 1 -> 2 -> 3 -> leaf 4: gva 0 -> gfn 10.
        vm.memory.write(pfnOf[1], 0, Pte.make(2, true));
        vm.memory.write(pfnOf[2], 0, Pte.make(3, true));
        vm.memory.write(pfnOf[3], 0, Pte.make(4, true));
        vm.memory.write(pfnOf[4], 0, Pte.make(10, true));
        // Process B: root gfn 5 -> 6 -> 7 -> leaf 8: gva 0 -> gfn 11, gva 4096 -> gfn 10 (shared with A).
        vm.memory.write(pfnOf[5], 0, Pte.make(6, true));
        vm.memory.write(pfnOf[6], 0, Pte.make(7, true));
        vm.memory.write(pfnOf[7], 0, Pte.make(8, true));
        vm.memory.write(pfnOf[8], 0, Pte.make(11, true));
        vm.memory.write(pfnOf[8], 1, Pte.make(10, true));
        long cr3A = 1L << 12;
        long cr3B = 5L << 12;
        shadowFault(vm, cr3A, 0, 10, pfnOf);
        shadowFault(vm, cr3B, 0, 11, pfnOf);
        shadowFault(vm, cr3B, PAGE, 10, pfnOf);
        assertThat(Spte.pfn(vm.view.lookup(cr3A, 0))).isEqualTo(pfnOf[10]);
        assertThat(Spte.pfn(vm.view.lookup(cr3B, 0))).as("after a CR3 switch, B's root").isEqualTo(pfnOf[11]);

        // A's kernel clears its gva 0: only A's entry goes.
        TestProbe<KvmCommand.GuestWritten> w = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.WriteGuest(new long[] {4L << 12}, new long[] {0}, w.getRef()));
        assertThat(w.receiveMessage().trapped()).isEqualTo(1);
        assertThat(vm.view.lookup(cr3A, 0)).isZero();
        assertThat(Spte.pfn(vm.view.lookup(cr3B, 0))).isEqualTo(pfnOf[11]);
        assertThat(Spte.pfn(vm.view.lookup(cr3B, PAGE))).isEqualTo(pfnOf[10]);

        // The host reclaims gfn 10's page: B's alias of it is zapped, B's gva 0 is not.
        vm.start(1, page(HVA + 10 * PAGE));
        vm.acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(vm.view.lookup(cr3B, PAGE)).isZero();
        assertThat(Spte.pfn(vm.view.lookup(cr3B, 0))).isEqualTo(pfnOf[11]);
        KvmStats stats = vm.stats();
        assertThat(stats.ptWritesTrapped()).isEqualTo(1);
        assertThat(stats.invalidationsHitLive()).isEqualTo(1);
    }

    private static void shadowFault(Vm vm, long cr3, long gva, int gfn, int[] pfnOf) {
        TestProbe<KvmCommand.FaultReply> r = kit.createTestProbe();
        vm.kvm.tell(new KvmCommand.ShadowFault(0, cr3, gva, false, r.getRef()));
        // Host PTE present: installed without a host round trip (fast path), from the frame the host maps.
        assertThat(r.receiveMessage()).isInstanceOf(KvmCommand.Resolved.class);
        assertThat(Spte.pfn(vm.view.lookup(cr3, gva))).isEqualTo(pfnOf[gfn]);
    }
}
