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
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The oracle watching a real host: clean when the protocol is followed, loud when a translation outlives its frame. */
class OracleWithRealHostTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private record Host(CoherenceOracle oracle, HostContext context, ActorRef<HostCommand> actor,
                        ActorRef<MmCommand> mm) {
        MmResult call(java.util.function.Function<ActorRef<MmResult>, MmCommand> msg) {
            TestProbe<MmResult> p = kit.createTestProbe();
            mm.tell(msg.apply(p.getRef()));
            return p.receiveMessage(Duration.ofSeconds(15));
        }
    }

    private static Host host() {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "4m"));
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        HostContext context = HostContext.create(settings, oracle);
        ActorRef<HostCommand> actor = kit.spawn(HostActor.create(context));
        TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
        actor.tell(new HostCommand.SpawnProcess("p", p.getRef()));
        return new Host(oracle, context, actor, p.receiveMessage().process());
    }

    @Test
    void aProcessThatMapsWritesForksAndExitsIsClean() {
        Host h = host();
        long va = ((MmResult.Done) h.call(r -> new MmCommand.Mmap(0, 64 * 4096, Protection.READ_WRITE,
                VmaKind.ANON_PRIVATE, null, 0, r))).value();
        for (int i = 0; i < 64; i++) {
            long a = va + i * 4096L;
            assertThat(h.call(r -> new MmCommand.Access(a, true, a, r)).ok()).isTrue();
        }
        assertThat(h.call(r -> new MmCommand.Munmap(va, 32 * 4096, r)).ok()).isTrue();
        TestProbe<MmCommand.ForkResult> fork = kit.createTestProbe();
        h.mm().tell(new MmCommand.Fork("child", fork.getRef()));
        ActorRef<MmCommand> child = fork.receiveMessage().child();
        TestProbe<MmResult> exit = kit.createTestProbe();
        child.tell(new MmCommand.Exit(exit.getRef()));
        exit.receiveMessage(Duration.ofSeconds(15));
        h.mm().tell(new MmCommand.Exit(exit.getRef()));
        exit.receiveMessage(Duration.ofSeconds(15));
        // The exit reply and the host's own exit notice come from different senders: wait until the host has
        // forgotten both processes, or the audit would ask a stopped mm and never complete.
        exit.awaitAssert(Duration.ofSeconds(15), () -> {
            assertThat(h.context().processes()).isEmpty();
            return null;
        });
        TestProbe<HostCommand.AuditReport> audit = kit.createTestProbe();
        h.actor().tell(new HostCommand.Audit(audit.getRef()));
        h.oracle().audit(audit.receiveMessage(Duration.ofSeconds(15)));
        h.oracle().checkLiveness(Duration.ZERO);
        assertThat(h.oracle().violations()).isEmpty();
        assertThat(h.oracle().eventsSeen()).isGreaterThan(200);
        assertThat(h.oracle().liveTranslations()).as("every PTE went with its process").isZero();
    }

    @Test
    void aSecondaryThatKeepsATranslationAfterItsFrameIsFreedIsCaught() {
        Host h = host();
        long va = ((MmResult.Done) h.call(r -> new MmCommand.Mmap(0, 4096, Protection.READ_WRITE,
                VmaKind.ANON_PRIVATE, null, 0, r))).value();
        h.call(r -> new MmCommand.Access(va, true, 1, r));
        TestProbe<PageReply> gup = kit.createTestProbe();
        h.mm().tell(new MmCommand.GetUserPage(va, false, gup.getRef()));
        PageReply.Granted g = (PageReply.Granted) gup.receiveMessage();
        // A broken secondary: it caches the translation but never registered, so nobody tells it to drop it.
        h.oracle().agentNamed(999, "rogue device");
        h.oracle().translationInstalled(999, 0, 1, va, g.pfn(), g.generation(), false);
        assertThat(h.call(r -> new MmCommand.Munmap(va, 4096, r)).ok()).isTrue();
        assertThat(h.oracle().count(Invariant.I3)).isEqualTo(1);
        assertThat(h.oracle().violations().get(0).detail()).contains("rogue device");
    }
}
