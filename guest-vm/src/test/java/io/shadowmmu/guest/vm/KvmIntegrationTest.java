package io.shadowmmu.guest.vm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.HostMachine;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.SequentialScan;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.kvm.KvmStats;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Guests on kvm-shadow's real KvmMmu over a real host mm, in TDP and in shadow mode, while the host forks the VMM
 * (copy-on-write of all guest RAM), migrates pages and drops ballooned pages.
 */
class KvmIntegrationTest {
    private static final long BASE = 0x40_0000L;
    /** {@code -Pstress} runs ten times longer. */
    private static final int PER_PROCESS = Boolean.getBoolean("shadowmmu.stress") ? 3_000_000 : 300_000;
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static HostMachine machine(boolean tdp) {
        return HostMachine.start(kit.testKit(), tdp, Map.of("host.memory", "64m", "guest.memory", "8m",
                "guest.vcpus", "2", "migration.enabled", "on", "migration.interval", "2ms",
                "migration.pages-per-interval", "8"));
    }

    @ParameterizedTest(name = "tdp={0}")
    @ValueSource(booleans = {true, false})
    void guestDataSurvivesHostForkMigrationAndBalloonDiscards(boolean tdp) {
        HostMachine m = machine(tdp);
        TestProbe<GuestVm.Spawned> sp = kit.createTestProbe();
        Region r = new Region(BASE, 256 * 4096);
        for (int i = 0; i < 3; i++) {
            m.vm().tell(new GuestVm.Spawn("p" + i, List.of(new GuestVma(r.base(), r.end(), true)),
                    WorkloadSpec.of(WorkloadKind.MIXED, PER_PROCESS, 0.3).create(r, 20 + i), sp.ref()));
            assertThat(sp.receiveMessage(Duration.ofSeconds(10)).pid()).isPositive();
        }
        TestProbe<VmStats> out = kit.createTestProbe();
        m.vm().tell(new GuestVm.Run(out.ref()));
        TestProbe<VmStats> poll = kit.createTestProbe();
        long seen = 0;
        while (seen < 100_000) {
            m.vm().tell(new GuestVm.GetStats(poll.ref()));
            seen = poll.receiveMessage(Duration.ofSeconds(10)).accesses();
        }

        TestProbe<MmCommand.ForkResult> forked = kit.createTestProbe();
        m.vmm().tell(new MmCommand.Fork("qemu-child", forked.ref()));
        MmCommand.ForkResult child = forked.receiveMessage(Duration.ofSeconds(10));
        assertThat(child.status().ok()).isTrue();
        TestProbe<GuestVm.Ballooned> balloon = kit.createTestProbe();
        m.vm().tell(new GuestVm.InflateBalloon(32, balloon.ref()));
        long[] gfns = balloon.receiveMessage(Duration.ofSeconds(10)).gfns();
        assertThat(gfns).isNotEmpty();
        for (long gfn : gfns) {
            long hva = m.hvaBase() + gfn * 4096;
            done(call(m.vmm(), rr -> new MmCommand.MadviseDontneed(hva, 4096, rr)));
        }
        m.vm().tell(new GuestVm.DeflateBalloon(gfns));
        done(call(child.child(), MmCommand.Exit::new));

        VmStats s = out.expectMessageClass(VmStats.class, Duration.ofSeconds(300));
        assertThat(s.accesses()).isEqualTo(3L * PER_PROCESS);
        assertThat(s.total().guestFaults()).isZero();
        assertThat(s.i1Violations()).isZero();
        assertThat(s.total().i3Violations()).isZero();
        assertThat(s.guestPageTableRepairs()).isZero();
        assertThat(s.total().i1Checks()).isGreaterThan(100_000);
        assertThat(m.events().violations).isEmpty();
        KvmStats k = kvmStats(m);
        assertThat(k.invalidationsHitLive()).isPositive();
        // vCPU TLB entries are KVM's translations for the oracle: a fence of KVM revokes them too.
        assertThat(m.events().tlbInstalls).hasSize(1);
        long tlbAgent = m.events().tlbInstalls.keySet().iterator().next();
        // One agent for the VM: KVM and the VM both name it, whichever starts last wins.
        assertThat(m.events().names.get(tlbAgent)).isIn("kvm vm0-kvm", "vm vm0");
        assertThat(s.flushes()).isPositive();
    }

    @ParameterizedTest(name = "tdp={0}")
    @ValueSource(booleans = {true, false})
    void aGuestPageTableChangeIsSeenByTheNextAccess(boolean tdp) {
        HostMachine m = machine(tdp);
        Region r = new Region(BASE, 8 * 4096);
        TestProbe<GuestVm.Spawned> sp = kit.createTestProbe();
        m.vm().tell(new GuestVm.Spawn("p", List.of(new GuestVma(r.base(), r.end(), true)),
                new SequentialScan(r, 8 * 512, 1.0, 8, 1), sp.ref()));
        GuestVm.Spawned p = sp.receiveMessage(Duration.ofSeconds(10));
        TestProbe<VmStats> out = kit.createTestProbe();
        m.vm().tell(new GuestVm.Run(out.ref()));
        assertThat(out.receiveMessage(Duration.ofSeconds(30)).total().guestFaults()).isZero();

        // mprotect inside the guest: the first half becomes read-only; writes there must now fault.
        TestProbe<Long> changed = kit.createTestProbe();
        m.vm().tell(new GuestVm.Protect(p.pid(), BASE, BASE + 4 * 4096, false, changed.ref()));
        assertThat(changed.receiveMessage(Duration.ofSeconds(10))).isEqualTo(4);
        m.vm().tell(new GuestVm.MoreWork(p.pid(), new SequentialScan(r, 8 * 512, 1.0, 8, 2)));
        m.vm().tell(new GuestVm.Run(out.ref()));
        VmStats s = out.receiveMessage(Duration.ofSeconds(30));
        assertThat(s.guestSegfaults()).isEqualTo(4 * 512);

        // munmap inside the guest: the second half disappears; reading it faults, the first half reads back.
        TestProbe<Long> unmapped = kit.createTestProbe();
        m.vm().tell(new GuestVm.Unmap(p.pid(), BASE + 4 * 4096, BASE + 8 * 4096, unmapped.ref()));
        assertThat(unmapped.receiveMessage(Duration.ofSeconds(10))).isEqualTo(4);
        m.vm().tell(new GuestVm.MoreWork(p.pid(), new SequentialScan(r, 8 * 512, 0.0, 8, 3)));
        m.vm().tell(new GuestVm.Run(out.ref()));
        VmStats after = out.receiveMessage(Duration.ofSeconds(30));
        assertThat(after.guestSegfaults()).isEqualTo(4 * 512 + 4 * 512);
        assertThat(after.i1Violations()).isZero();
        assertThat(after.total().i1Checks()).isGreaterThanOrEqualTo(4 * 512);
        assertThat(m.events().violations).isEmpty();
    }

    private static KvmStats kvmStats(HostMachine m) {
        TestProbe<KvmStats> p = kit.createTestProbe();
        m.vm().tell(new GuestVm.GetKvmStats(p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    private static long done(MmResult r) {
        return HostMachine.done(r);
    }

    private static MmResult call(ActorRef<MmCommand> mm, Function<ActorRef<MmResult>, MmCommand> msg) {
        return HostMachine.call(kit.testKit(), mm, msg);
    }
}
