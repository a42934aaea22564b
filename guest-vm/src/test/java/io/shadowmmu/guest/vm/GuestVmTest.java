package io.shadowmmu.guest.vm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.FakeKvm;
import io.shadowmmu.guest.testing.RecordingEvents;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.trace.LackeyTrace;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.SequentialScan;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class GuestVmTest {
    private static final long BASE = 0x40_0000L;
    private static final long PAGES = 64;
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private record Vm(ActorRef<GuestVm.Command> ref, RecordingEvents events, FakeKvm kvm) {
    }

    private static Vm vm(boolean tdp, int vcpus, TlbGeometry tlb) {
        RecordingEvents events = new RecordingEvents();
        PhysicalMemory memory = new PhysicalMemory(2048, ContentMode.FULL, true, events);
        FakeKvm kvm = new FakeKvm(memory, 1024, tdp);
        GuestVm.Config c = new GuestVm.Config("vm0", AgentIds.next(), kvm, memory, events, vcpus, tlb, 10_000, 33,
                true);
        return new Vm(kit.spawn(GuestVm.create(c)), events, kvm);
    }

    private static GuestVm.Spawned spawn(Vm vm, GuestVm.Spawn... spawns) {
        TestProbe<GuestVm.Spawned> p = kit.createTestProbe();
        GuestVm.Spawned last = null;
        for (GuestVm.Spawn s : spawns) {
            vm.ref().tell(new GuestVm.Spawn(s.name(), s.vmas(), s.workload(), p.ref()));
            last = p.receiveMessage();
            assertThat(last.pid()).isPositive();
        }
        return last;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void processesRunTheirWorkloadsWithDemandPagingAndNoStaleReads(boolean tdp) {
        Vm vm = vm(tdp, 2, new TlbGeometry(64, 4));
        Region r = new Region(BASE, PAGES * 4096);
        List<GuestVma> vmas = List.of(new GuestVma(r.base(), r.end(), true));
        spawn(vm,
                new GuestVm.Spawn("a", vmas, WorkloadSpec.of(WorkloadKind.MIXED, 200_000, 0.3).create(r, 1), null),
                new GuestVm.Spawn("b", vmas, WorkloadSpec.of(WorkloadKind.ZIPFIAN, 200_000, 0.3).create(r, 2), null),
                new GuestVm.Spawn("c", vmas, WorkloadSpec.of(WorkloadKind.UNIFORM, 100_000, 0.5).create(r, 3), null));
        TestProbe<VmStats> out = kit.createTestProbe();
        vm.ref().tell(new GuestVm.Run(out.ref()));
        VmStats s = out.expectMessageClass(VmStats.class, Duration.ofSeconds(30));
        assertThat(s.accesses()).isEqualTo(500_000);
        assertThat(s.vcpus()).hasSize(2);
        assertThat(s.vcpus().get(0).accesses() + s.vcpus().get(1).accesses()).isEqualTo(500_000);
        assertThat(s.guestKernelFaults()).isGreaterThanOrEqualTo(3 * PAGES);
        assertThat(s.i1Violations()).isZero();
        assertThat(s.total().i1Checks()).isGreaterThan(100_000);
        assertThat(s.tlbHits() + s.tlbMisses()).isGreaterThanOrEqualTo(500_000);
        assertThat(s.faults()).isPositive();
        assertThat(s.total().guestFaults()).isZero();
        assertThat(vm.events().violations).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void accessesOutsideEveryGuestMappingAreGuestSegfaults(boolean tdp) {
        Vm vm = vm(tdp, 1, new TlbGeometry(16, 4));
        // The workload covers 4 pages; the process only maps the first 2.
        spawn(vm, new GuestVm.Spawn("p", List.of(new GuestVma(BASE, BASE + 2 * 4096, true)),
                new SequentialScan(new Region(BASE, 4 * 4096), 4 * 512, 0.5, 8, 1), null));
        TestProbe<VmStats> out = kit.createTestProbe();
        vm.ref().tell(new GuestVm.Run(out.ref()));
        VmStats s = out.expectMessageClass(VmStats.class);
        assertThat(s.accesses()).isEqualTo(2 * 512);
        assertThat(s.total().guestFaults()).isEqualTo(2 * 512);
        assertThat(s.guestSegfaults()).isEqualTo(2 * 512);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void guestMunmapShootsDownTlbsAndTheNextTouchSegfaults(boolean tdp) {
        Vm vm = vm(tdp, 2, new TlbGeometry(16, 4));
        Region r = new Region(BASE, 8 * 4096);
        GuestVm.Spawned p = spawn(vm, new GuestVm.Spawn("p", List.of(new GuestVma(r.base(), r.end(), true)),
                new SequentialScan(r, 8 * 512, 1.0, 8, 1), null));
        TestProbe<VmStats> out = kit.createTestProbe();
        vm.ref().tell(new GuestVm.Run(out.ref()));
        assertThat(out.receiveMessage().total().guestFaults()).isZero();

        TestProbe<Long> unmapped = kit.createTestProbe();
        vm.ref().tell(new GuestVm.Unmap(p.pid(), BASE + 4 * 4096, BASE + 8 * 4096, unmapped.ref()));
        assertThat(unmapped.receiveMessage()).isEqualTo(4);

        TestProbe<VmStats> stats = kit.createTestProbe();
        vm.ref().tell(new GuestVm.GetStats(stats.ref()));
        VmStats afterUnmap = stats.receiveMessage();
        assertThat(afterUnmap.flushes()).isEqualTo(2);  // one shootdown, served by both vCPUs

        // Reading the whole region again: the unmapped half faults, the rest still reads what was written.
        spawnMore(vm, p, new SequentialScan(r, 8 * 512, 0.0, 8, 2));
        vm.ref().tell(new GuestVm.Run(out.ref()));
        VmStats s = out.receiveMessage();
        assertThat(s.total().guestFaults()).isEqualTo(4 * 512);
        assertThat(s.total().i1Checks()).isEqualTo(4 * 512);
        assertThat(s.i1Violations()).isZero();
    }

    @Test
    void replaysALackeyTraceCountingInstructionFetchesApart() throws Exception {
        Vm vm = vm(true, 1, TlbGeometry.fullyAssociative(64));
        LackeyTrace trace = new LackeyTrace("ls-root.lackey", getClass().getResourceAsStream("/ls-root.lackey"));
        spawn(vm, new GuestVm.Spawn("ls", List.of(new GuestVma(0, 1L << 47, true)), trace, null));
        TestProbe<VmStats> out = kit.createTestProbe();
        vm.ref().tell(new GuestVm.Run(out.ref()));
        VmStats s = out.expectMessageClass(VmStats.class, Duration.ofSeconds(10));
        assertThat(s.total().fetches()).isEqualTo(233);
        assertThat(s.accesses()).isEqualTo(294);
        assertThat(s.total().writes()).isEqualTo(35);
        // Fetches go through the instruction TLB only; the data TLB sees the 61 data accesses.
        assertThat(s.total().itlb().hits() + s.total().itlb().misses()).isGreaterThanOrEqualTo(233);
        assertThat(s.total().tlb().hits() + s.total().tlb().misses()).isGreaterThanOrEqualTo(61);
        assertThat(s.total().tlb().hits() + s.total().tlb().misses()).isLessThan(233);
        assertThat(s.total().guestFaults()).isZero();
        assertThat(s.i1Violations()).isZero();
        trace.close();
    }

    private static void spawnMore(Vm vm, GuestVm.Spawned p, io.shadowmmu.guest.workload.Workload w) {
        vm.ref().tell(new GuestVm.MoreWork(p.pid(), w));
    }
}
