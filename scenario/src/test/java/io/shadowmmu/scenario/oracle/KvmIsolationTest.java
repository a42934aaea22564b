package io.shadowmmu.scenario.oracle;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * I2 for KVM on a real host: KvmMmu binds itself to the mm it serves, so a KVM whose faults are resolved in another
 * process's address space (a VMM handing KVM the wrong mm) installs sptes to frames its mm does not hold, and the
 * oracle says so at the install.
 */
class KvmIsolationTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();
    private static final int PAGES = 4;

    private final CoherenceOracle oracle = new CoherenceOracle(16);
    private final HostContext host = HostContext.create(Settings.withOverrides(Map.of("host.memory", "4m")), oracle);
    private final ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));

    private HostCommand.ProcessSpawned spawn(String name) {
        TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess(name, p.getRef()));
        return p.receiveMessage();
    }

    private long guestRam(ActorRef<MmCommand> mm) {
        TestProbe<MmResult> r = kit.createTestProbe();
        mm.tell(MmCommand.Mmap.anonymous(PAGES * 4096, Protection.READ_WRITE, r.getRef()));
        return ((MmResult.Done) r.receiveMessage(Duration.ofSeconds(15))).value();
    }

    /** A KVM whose faults go to {@code faultsTo} (RAM at {@code hva}) and that says it serves mm {@code mmId}. */
    private KvmCommand.FaultReply faultOnce(ActorRef<MmCommand> faultsTo, long mmId, long hva) {
        ActorRef<KvmCommand> kvm = kit.spawn(KvmMmu.create(new KvmMmu.Config("vm", faultsTo, mmId,
                List.of(new Memslot(0, 0, PAGES, hva, false)), new KvmView(true, PAGES), host.memory(), oracle, 0)));
        TestProbe<KvmCommand.FaultReply> reply = kit.createTestProbe();
        kvm.tell(new KvmCommand.TdpFault(0, 0, true, reply.getRef()));
        return reply.receiveMessage(Duration.ofSeconds(15));
    }

    @Test
    void kvmInstallingItsOwnProcessesFramesIsClean() {
        HostCommand.ProcessSpawned vmm = spawn("vmm");
        assertThat(faultOnce(vmm.process(), vmm.mm(), guestRam(vmm.process())))
                .isInstanceOf(KvmCommand.Resolved.class);
        assertThat(oracle.violations()).isEmpty();
    }

    @Test
    void kvmResolvingFaultsInAnotherProcessIsI2() {
        HostCommand.ProcessSpawned vmm = spawn("vmm");
        HostCommand.ProcessSpawned other = spawn("other");
        guestRam(vmm.process());
        // Deliberately wrong: KVM of vmm's mm resolves its faults through the other process.
        assertThat(faultOnce(other.process(), vmm.mm(), guestRam(other.process())))
                .isInstanceOf(KvmCommand.Resolved.class);
        assertThat(oracle.count(Invariant.I2)).isEqualTo(1);
        assertThat(oracle.violations().get(0).agentName()).contains("kvm vm");
        assertThat(oracle.violations().get(0).detail()).contains("mm " + vmm.mm());
    }
}
