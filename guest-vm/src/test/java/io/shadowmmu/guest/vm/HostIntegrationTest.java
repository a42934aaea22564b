package io.shadowmmu.guest.vm;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.HostTdpKvm;
import io.shadowmmu.guest.testing.RecordingEvents;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A guest on a real host mm (the VMM process whose anonymous mapping is guest RAM) while the host forks the VMM
 * (copy-on-write of all guest RAM), migrates pages, and drops and remaps ballooned guest pages. The guest must read
 * back everything it wrote.
 */
class HostIntegrationTest {
    private static final int GUEST_FRAMES = 2048;
    private static ActorTestKit testKit;

    @BeforeAll
    static void setup() {
        testKit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING")
                .withFallback(ConfigFactory.load()));
    }

    @AfterAll
    static void teardown() {
        testKit.shutdownTestKit();
    }

    @Test
    void guestDataSurvivesForkMigrationAndBalloonedDiscardsUnderLoad() {
        RecordingEvents events = new RecordingEvents();
        Settings settings = Settings.withOverrides(Map.of("host.memory", "64m", "migration.enabled", "on",
                "migration.interval", "2ms", "migration.pages-per-interval", "8"));
        HostContext host = HostContext.create(settings, events);
        ActorRef<HostCommand> hostActor = testKit.spawn(HostActor.create(host));
        TestProbe<HostCommand.ProcessSpawned> spawned = testKit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess("qemu", spawned.ref()));
        ActorRef<MmCommand> qemu = spawned.receiveMessage().process();
        long ramLength = (long) GUEST_FRAMES * 4096;
        long hvaBase = done(call(qemu, r -> new MmCommand.Mmap(0, ramLength, Protection.READ_WRITE,
                VmaKind.ANON_PRIVATE, null, 0, r)));

        HostTdpKvm kvm = new HostTdpKvm(host.memory(), hvaBase, GUEST_FRAMES, AgentIds.next());
        testKit.spawn(kvm.behavior(qemu, events));
        ActorRef<GuestVm.Command> vm = testKit.spawn(GuestVm.create(new GuestVm.Config("vm0", AgentIds.next(), kvm,
                host.memory(), events, 2, new TlbGeometry(64, 4), 10_000, 33, true)));

        TestProbe<GuestVm.Spawned> sp = testKit.createTestProbe();
        for (int i = 0; i < 3; i++) {
            Region r = new Region(0x40_0000L, 256 * 4096);
            vm.tell(new GuestVm.Spawn("p" + i, List.of(new GuestVma(r.base(), r.end(), true)),
                    WorkloadSpec.of(WorkloadKind.MIXED, 400_000, 0.3).create(r, 10 + i), sp.ref()));
            assertThat(sp.receiveMessage(Duration.ofSeconds(10)).pid()).isPositive();
        }
        TestProbe<VmStats> out = testKit.createTestProbe();
        vm.tell(new GuestVm.Run(out.ref()));

        // Host stress while the guest runs: wait until the guest is well into its run.
        TestProbe<VmStats> poll = testKit.createTestProbe();
        long seen = 0;
        while (seen < 100_000) {
            vm.tell(new GuestVm.GetStats(poll.ref()));
            seen = poll.receiveMessage(Duration.ofSeconds(10)).accesses();
        }
        long zappedBeforeFork = kvm.entriesZapped.get();
        TestProbe<MmCommand.ForkResult> forked = testKit.createTestProbe();
        qemu.tell(new MmCommand.Fork("qemu-child", forked.ref()));
        MmCommand.ForkResult child = forked.receiveMessage(Duration.ofSeconds(10));
        assertThat(child.status().ok()).isTrue();
        // fork write-protected all guest RAM: every live TDP entry was dropped, in one invalidation.
        assertThat(kvm.entriesZapped.get() - zappedBeforeFork).isGreaterThan(100);

        TestProbe<GuestVm.Ballooned> balloon = testKit.createTestProbe();
        vm.tell(new GuestVm.InflateBalloon(32, balloon.ref()));
        long[] gfns = balloon.receiveMessage(Duration.ofSeconds(10)).gfns();
        assertThat(gfns).isNotEmpty();
        for (long gfn : gfns) {
            long hva = hvaBase + gfn * 4096;
            done(call(qemu, r -> new MmCommand.MadviseDontneed(hva, 4096, r)));
        }
        long remapped = hvaBase + gfns[0] * 4096;
        done(call(qemu, r -> new MmCommand.Munmap(remapped, 4096, r)));
        done(call(qemu, r -> new MmCommand.Mmap(remapped, 4096, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null,
                0, r)));
        vm.tell(new GuestVm.DeflateBalloon(gfns));
        done(call(child.child(), MmCommand.Exit::new));

        VmStats s;
        try {
            s = out.expectMessageClass(VmStats.class, Duration.ofSeconds(30));
        } catch (AssertionError e) {
            throw new AssertionError("the VM did not finish; KVM stand-in: " + kvm.debugState, e);
        }
        assertThat(s.accesses()).isEqualTo(1_200_000);
        assertThat(s.total().guestFaults()).isZero();
        assertThat(s.i1Violations()).isZero();
        assertThat(s.total().i3Violations()).isZero();
        assertThat(s.total().i1Checks()).isGreaterThan(100_000);
        assertThat(events.violations).isEmpty();
        // The host's invalidations reached live TDP entries, and vCPUs flushed for them.
        assertThat(kvm.invalidationsHittingEntries.get()).isPositive();
        assertThat(s.flushes()).isPositive();
    }

    private static MmResult call(ActorRef<MmCommand> mm, Function<ActorRef<MmResult>, MmCommand> msg) {
        TestProbe<MmResult> p = testKit.createTestProbe();
        mm.tell(msg.apply(p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    private static long done(MmResult r) {
        assertThat(r.ok()).as("%s", r).isTrue();
        return ((MmResult.Done) r).value();
    }
}
