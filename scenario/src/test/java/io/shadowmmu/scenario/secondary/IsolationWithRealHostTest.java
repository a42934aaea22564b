package io.shadowmmu.scenario.secondary;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** I2 on a real host: a secondary of one process that installs a frame of another process is caught. */
class IsolationWithRealHostTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private final CoherenceOracle oracle = new CoherenceOracle(16);
    private final HostContext host = HostContext.create(Settings.withOverrides(Map.of("host.memory", "4m")), oracle);
    private final ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));

    private HostCommand.ProcessSpawned spawn(String name) {
        TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess(name, p.getRef()));
        return p.receiveMessage();
    }

    /** Maps and writes one page in {@code mm}, and returns what get_user_pages grants for it. */
    private PageReply.Granted touchedPage(ActorRef<MmCommand> mm) {
        TestProbe<MmResult> r = kit.createTestProbe();
        mm.tell(new MmCommand.Mmap(0, 4096, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0, r.getRef()));
        long va = ((MmResult.Done) r.receiveMessage(Duration.ofSeconds(15))).value();
        mm.tell(new MmCommand.Access(va, true, 7, r.getRef()));
        assertThat(r.receiveMessage(Duration.ofSeconds(15)).ok()).isTrue();
        TestProbe<PageReply> gup = kit.createTestProbe();
        mm.tell(new MmCommand.GetUserPage(va, false, gup.getRef()));
        return (PageReply.Granted) gup.receiveMessage(Duration.ofSeconds(15));
    }

    @Test
    void aSecondaryInstallingItsOwnProcessesFrameIsClean() {
        HostCommand.ProcessSpawned p = spawn("p");
        PageReply.Granted mine = touchedPage(p.process());
        TranslationCache cache = new TranslationCache(host.memory(), AgentIds.next(), p.mm(), "p's device");
        cache.install(mine.va(), mine.pfn(), mine.generation());
        assertThat(cache.read(mine.va())).isTrue();
        assertThat(oracle.violations()).isEmpty();
        assertThat(oracle.eventsSeen()).isPositive();
    }

    @Test
    void aSecondaryInstallingAnotherProcessesFrameIsI2() {
        HostCommand.ProcessSpawned p = spawn("p");
        HostCommand.ProcessSpawned q = spawn("q");
        touchedPage(p.process());
        PageReply.Granted theirs = touchedPage(q.process());
        long agent = AgentIds.next();
        oracle.agentNamed(agent, "p's device");
        TranslationCache cache = new TranslationCache(host.memory(), agent, p.mm(), "p's device");
        // A deliberately wrong access: p's secondary maps q's frame (as if it had asked the wrong mm).
        cache.install(theirs.va(), theirs.pfn(), theirs.generation());
        assertThat(oracle.count(Invariant.I2)).isEqualTo(1);
        assertThat(oracle.violations().get(0).agentName()).contains("p's device");
        assertThat(oracle.violations().get(0).detail()).contains("mm " + p.mm()).contains("frame " + theirs.pfn());
        assertThat(oracle.violations().get(0).story()).isNotEmpty();
    }
}
