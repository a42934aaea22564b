package io.shadowmmu.scenario.catalogue;

import io.shadowmmu.testkit.junit.ShadowTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.Instructions;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code REGISTER_UNQUIESCED}, the interleaving forced against a real host, a real GRU device and the real oracle.
 * Under a barrier strategy (RANGE) a slow subscriber holds an invalidation open, so the host PTE is still present;
 * a device registers meanwhile and its drop-in walks the host page table. Handed the range in flight, the device
 * waits for the end and then finds the page gone. Without the hand-over it caches the entry, is never asked to flush
 * it (it joined after the start), and the frame is freed under its TLB: I3.
 */
class RegisterUnquiescedTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING");

    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NONE", "REGISTER_UNQUIESCED"})
    void aDeviceRegisteringDuringAnInvalidationNeverCachesWhatItClears(Variant variant) {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "4m", "notifier.strategy", "range",
                "variant", variant.name()));
        CoherenceOracle oracle = new CoherenceOracle(8);
        HostContext host = HostContext.create(settings, oracle);
        ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));
        TestProbe<HostCommand.ProcessSpawned> spawned = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess("user", spawned.getRef()));
        HostCommand.ProcessSpawned p = spawned.receiveMessage();
        TestProbe<MmResult> results = kit.createTestProbe();
        p.process().tell(MmCommand.Mmap.anonymous(4 * 4096, Protection.READ_WRITE, results.getRef()));
        long va = ((MmResult.Done) results.receiveMessage()).value();
        p.process().tell(new MmCommand.Access(va, true, 41, results.getRef()));
        assertThat(results.receiveMessage().ok()).isTrue();

        // A slow secondary (it acks when the test says) and a discard of the page: the barrier is up, the PTE stays.
        TestProbe<MmuNotification> slow = kit.createTestProbe();
        TestProbe<MmCommand.Registered> registered = kit.createTestProbe();
        p.process().tell(new MmCommand.Register(slow.getRef(), Interest.WHOLE_MM, 900, "slow",
                Duration.ofSeconds(30), registered.getRef()));
        registered.receiveMessage();
        TestProbe<MmResult> discarded = kit.createTestProbe();
        p.process().tell(new MmCommand.MadviseDontneed(va, 4096, discarded.getRef()));
        MmuNotification.InvalidateStart start = slow.expectMessageClass(MmuNotification.InvalidateStart.class);

        // The device binds to the mm now, and loads from the page.
        ActorRef<GruCommand> device = kit.spawn(GruDevice.create("gru0", GruSettings.read(settings),
                host.memory()));
        TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
        device.tell(new GruCommand.OpenContext(p.process(), p.mm(), opened.getRef()));
        int context = opened.receiveMessage().context();
        TestProbe<GruCommand.BatchResult> batch = kit.createTestProbe();
        device.tell(new GruCommand.Execute(context, Instructions.one(Instructions.LOAD, va, 0), 0, batch.getRef()));
        if (variant == Variant.NONE) {
            batch.expectNoMessage(Duration.ofMillis(100)); // ms_range_active: the drop-in waits for the end
        } else {
            GruCommand.BatchResult r = batch.receiveMessage();
            assertThat(r.status()).as("dropped in from the PTE the barrier is about to clear")
                    .isEqualTo(GruCommand.BatchResult.Status.DONE);
            assertThat(r.loadSum()).isEqualTo(41);
        }

        start.replyTo().tell(NotifierReply.Ack.clean(start.subscription(), start.batch()));
        assertThat(discarded.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue(); // the frame is freed by now
        if (variant == Variant.NONE) {
            GruCommand.BatchResult r = batch.receiveMessage();
            assertThat(r.status()).as("after the end the page is gone: a host fault")
                    .isEqualTo(GruCommand.BatchResult.Status.FAULT);
            assertThat(oracle.violations()).isEmpty();
        } else {
            assertThat(oracle.count(Invariant.I3)).as("freed under the device's TLB entry").isEqualTo(1);
            assertThat(oracle.violations().get(0).agentName()).contains("gru0");
        }
    }
}
