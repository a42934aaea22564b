package io.shadowmmu.guest.vcpu;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.guest.os.GuestFaultResult;
import io.shadowmmu.guest.os.GuestFrameAllocator;
import io.shadowmmu.guest.os.GuestOs;
import io.shadowmmu.guest.os.GuestPageTable;
import io.shadowmmu.guest.os.GuestProcess;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.os.GuestWrites;
import io.shadowmmu.guest.testing.FakeKvm;
import io.shadowmmu.guest.testing.RecordingEvents;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.SequentialScan;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class VcpuTest {
    private static final long BASE = 0x40_0000L;
    private static final int GUEST_FRAMES = 64;
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    /** A guest with one process whose first {@code pages} pages are mapped, written straight into guest RAM. */
    private static final class Guest {
        final RecordingEvents events = new RecordingEvents();
        final PhysicalMemory memory = new PhysicalMemory(256, ContentMode.FULL, true, events);
        final FakeKvm kvm = new FakeKvm(memory, GUEST_FRAMES, true);
        final GuestOs os = new GuestOs(GUEST_FRAMES);
        final GuestProcess process;

        Guest(int pages) {
            GuestWrites w = new GuestWrites();
            process = os.spawn("p", List.of(new GuestVma(BASE, BASE + 16 * 4096, true)), w);
            for (int i = 0; i < pages; i++) {
                assertThat(os.pageFault(process.pid(), BASE + i * 4096L, true, w)).isEqualTo(GuestFaultResult.MAPPED);
            }
            kvm.apply(w);
        }

        ActorRef<Vcpu.Command> spawnVcpu(int slice, ActorRef<Vcpu.GuestPageFault> kernel) {
            Vcpu.Config c = new Vcpu.Config(0, AgentIds.next(), kvm, memory, events, new TlbGeometry(16, 4), slice,
                    33, true, kernel);
            return kit.spawn(Vcpu.create(c));
        }
    }

    private static Workload onePage(long accesses, double writes) {
        return new SequentialScan(new Region(BASE, 4096), accesses, writes, 8, 1);
    }

    @Test
    void servesAFlushBetweenSlicesWhileItRuns() {
        Guest g = new Guest(1);
        TestProbe<FakeKvm.ExitSeen> kvmProbe = kit.createTestProbe();
        TestProbe<Object> out = kit.createTestProbe();
        TestProbe<Vcpu.GuestPageFault> kernel = kit.createTestProbe();
        g.kvm.probeMode(kvmProbe.ref());
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(10_000, kernel.ref());
        long total = 10_000_000;
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(total, 0.1)));
        vcpu.tell(new Vcpu.Start(out.ref().narrow()));

        // The 2-D walk exits once per missing TDP entry: four guest table pages, then the data page.
        int exits = 0;
        while (true) {
            FakeKvm.ExitSeen e = kvmProbe.expectMessageClass(FakeKvm.ExitSeen.class);
            exits++;
            g.kvm.install(e.cr3(), e.address());
            e.vcpu().tell(new Vcpu.ExitResolved(0));
            if (e.address() >>> 12 == g.kvm.guestFrames() || exits == 5) {
                break;
            }
        }
        assertThat(exits).isEqualTo(5);
        // Wait until the vCPU runs from its TLB: a stats query is itself served between two slices.
        TestProbe<VcpuStats> stats = kit.createTestProbe();
        long seen = 0;
        while (seen == 0) {
            vcpu.tell(new Vcpu.GetStats(stats.ref()));
            seen = stats.receiveMessage().accesses();
        }
        assertThat(seen).isLessThan(total);
        // KVM asks for a flush in the middle of the run.
        vcpu.tell(Vcpu.FlushTlb.everything(77, out.ref().narrow()));
        Vcpu.FlushDone done = out.expectMessageClass(Vcpu.FlushDone.class, Duration.ofSeconds(10));
        assertThat(done.request()).isEqualTo(77);
        Vcpu.Finished finished = out.expectMessageClass(Vcpu.Finished.class, Duration.ofSeconds(30));
        VcpuStats s = finished.stats();
        assertThat(s.accesses()).isEqualTo(total);
        assertThat(s.flushRequests()).isEqualTo(1);
        // The flush found the live translation: it was served mid-run, not after the last slice.
        assertThat(s.tlb().flushedEntries()).isEqualTo(1);
        assertThat(s.slices()).isGreaterThan(1);
        assertThat(s.exits()).isEqualTo(5);
        assertThat(s.i1Violations()).isZero();
        assertThat(s.i1Checks()).isGreaterThan(0);
        kvmProbe.expectNoMessage(Duration.ofMillis(50));
    }

    @Test
    void anAccessOutsideGuestMemoryIsAGuestFaultNotACrash() {
        Guest g = new Guest(1);
        // The guest maps its second page to a frame number beyond its RAM (no memslot covers it).
        GuestWrites w = new GuestWrites();
        GuestFrameAllocator alloc = g.os.allocator();
        GuestPageTable pt = g.process.pageTable();
        assertThat(pt.map(BASE + 4096, 10_000, true, alloc, w)).isTrue();
        g.kvm.apply(w);
        TestProbe<Vcpu.Finished> out = kit.createTestProbe();
        TestProbe<Vcpu.GuestPageFault> kernel = kit.createTestProbe();
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(100, kernel.ref());
        // 1024 accesses with a 2 KiB stride alternate between the good page and the bad one.
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(),
                new SequentialScan(new Region(BASE, 2 * 4096), 1024, 0.5, 2048, 3)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        VcpuStats s = out.expectMessageClass(Vcpu.Finished.class).stats();
        assertThat(s.guestFaults()).isEqualTo(512);
        assertThat(s.accesses()).isEqualTo(512);
        // Still alive and answering.
        TestProbe<VcpuStats> stats = kit.createTestProbe();
        vcpu.tell(new Vcpu.GetStats(stats.ref()));
        assertThat(stats.receiveMessage().guestFaults()).isEqualTo(512);
    }

    @Test
    void aStaleReadIsReportedAsAnI1ViolationWithAddressValuesAndFrame() {
        Guest g = new Guest(1);
        TestProbe<Vcpu.Finished> out = kit.createTestProbe();
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(1_000, kit.<Vcpu.GuestPageFault>createTestProbe().ref());
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(512, 1.0)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        out.expectMessageClass(Vcpu.Finished.class);

        // A broken hypervisor moves the guest page to a new host frame without copying it.
        long gfn = g.process.pageTable().lookup(BASE) >>> 12 & ((1L << 40) - 1);
        g.kvm.moveWithoutCopy(gfn);
        TestProbe<Vcpu.FlushDone> flushed = kit.createTestProbe();
        vcpu.tell(Vcpu.FlushTlb.everything(1, flushed.ref()));
        flushed.expectMessageClass(Vcpu.FlushDone.class);

        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(512, 0.0)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        VcpuStats s = out.expectMessageClass(Vcpu.Finished.class).stats();
        assertThat(s.i1Violations()).isEqualTo(512);
        assertThat(g.events.violations).hasSize(512);
        RecordingEvents.Violation v = g.events.violations.get(0);
        assertThat(v.invariant()).isEqualTo(Invariant.I1);
        assertThat(v.detail()).contains("0x400000").contains("expected 0x").contains("actual 0x0")
                .contains("pfn " + g.kvm.hostFrame(gfn));
    }

    @Test
    void aCorrectRunChecksEveryKnownReadAndFindsNothing() {
        Guest g = new Guest(4);
        TestProbe<Vcpu.Finished> out = kit.createTestProbe();
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(1_000, kit.<Vcpu.GuestPageFault>createTestProbe().ref());
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(),
                new SequentialScan(new Region(BASE, 4 * 4096), 100_000, 0.5, 8, 5)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        VcpuStats s = out.expectMessageClass(Vcpu.Finished.class).stats();
        assertThat(s.accesses()).isEqualTo(100_000);
        assertThat(s.i1Checks()).isGreaterThan(40_000);
        assertThat(s.i1Violations()).isZero();
        assertThat(g.events.violations).isEmpty();
        // 4 data pages + 4 table pages' TDP entries, one exit each.
        assertThat(s.exits()).isEqualTo(8);
        // One miss per page: an access replayed after its exits is not counted again.
        assertThat(s.tlb().misses()).isEqualTo(4);
        assertThat(s.tlb().hits()).isEqualTo(100_000 - 4);
    }

    @Test
    void aHitOnAReusedFrameIsAnI3ViolationAndIsNotUsed() {
        Guest g = new Guest(1);
        TestProbe<Vcpu.Finished> out = kit.createTestProbe();
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(1_000, kit.<Vcpu.GuestPageFault>createTestProbe().ref());
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(10, 1.0)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        out.expectMessageClass(Vcpu.Finished.class);
        // The host frees the data frame and hands it out again while the vCPU's TLB still maps it (no flush).
        long gfn = g.process.pageTable().lookup(BASE) >>> 12 & ((1L << 40) - 1);
        int pfn = g.kvm.hostFrame(gfn);
        g.memory.put(pfn);
        assertThat(g.memory.allocate(0xEE, PhysicalMemory.FLAG_ANON)).isEqualTo(pfn);
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(1, 0.0)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        VcpuStats s = out.expectMessageClass(Vcpu.Finished.class).stats();
        assertThat(s.i3Violations()).isGreaterThanOrEqualTo(1);
        assertThat(g.events.violations).anySatisfy(v -> assertThat(v.invariant()).isEqualTo(Invariant.I3));
    }

    @Test
    void anExitAnsweredWithoutAnEntryIsRetriedAndCounted() {
        Guest g = new Guest(1);
        TestProbe<FakeKvm.ExitSeen> kvmProbe = kit.createTestProbe();
        TestProbe<Vcpu.Finished> out = kit.createTestProbe();
        g.kvm.probeMode(kvmProbe.ref());
        ActorRef<Vcpu.Command> vcpu = g.spawnVcpu(100, kit.<Vcpu.GuestPageFault>createTestProbe().ref());
        vcpu.tell(new Vcpu.AddProcess(g.process.pid(), g.process.cr3(), onePage(10, 0.0)));
        vcpu.tell(new Vcpu.Start(out.ref()));
        for (int level = 0; level < 4; level++) {
            FakeKvm.ExitSeen e = kvmProbe.receiveMessage();
            g.kvm.install(e.cr3(), e.address());
            e.vcpu().tell(new Vcpu.ExitResolved(0));
        }
        // The data page: an invalidation "raced" the fault, so KVM answers without installing, twice.
        FakeKvm.ExitSeen data = kvmProbe.receiveMessage();
        data.vcpu().tell(new Vcpu.ExitResolved(0));
        FakeKvm.ExitSeen again = kvmProbe.receiveMessage();
        assertThat(again.address()).isEqualTo(data.address());
        again.vcpu().tell(new Vcpu.ExitResolved(0));
        FakeKvm.ExitSeen third = kvmProbe.receiveMessage();
        g.kvm.install(third.cr3(), third.address());
        third.vcpu().tell(new Vcpu.ExitResolved(1));
        VcpuStats s = out.receiveMessage().stats();
        assertThat(s.exits()).isEqualTo(7);
        // Two retries seen by the vCPU, one more reported by KVM.
        assertThat(s.retries()).isEqualTo(3);
        assertThat(s.accesses()).isEqualTo(10);
    }
}
