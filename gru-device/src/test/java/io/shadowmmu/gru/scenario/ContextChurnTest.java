package io.shadowmmu.gru.scenario;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.device.Instructions;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Context churn ({@code gru.context-churn}): a batch that waits for an invalidation to end makes the device tear its
 * mm binding down and register a new one while that invalidation is still in flight. Correct, the new registration
 * is handed the invalidation and the batch keeps waiting; with REGISTER_UNQUIESCED it drops in the entry being
 * cleared and the frame is freed under it.
 */
class ContextChurnTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING");

    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NONE", "REGISTER_UNQUIESCED"})
    void aWaitForAnInvalidationReRegistersTheMmInsideIt(Variant variant) {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "4m", "notifier.strategy", "range",
                "gru.context-churn", "1", "variant", variant.name()));
        DeviceTranslationTracker events = new DeviceTranslationTracker();
        TouchedProcess touched = TouchedProcess.start(kit, settings, events, 41);
        HostContext host = touched.host();
        HostCommand.ProcessSpawned p = touched.spawned();
        TestProbe<MmResult> results = touched.results();
        long va = touched.va();

        // The device binds to the mm and caches the page.
        ActorRef<GruCommand> device = kit.spawn(GruDevice.create("gru0", GruSettings.read(settings),
                host.memory()));
        TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
        device.tell(new GruCommand.OpenContext(p.process(), p.mm(), opened.getRef()));
        int context = opened.receiveMessage().context();
        TestProbe<GruCommand.BatchResult> batch = kit.createTestProbe();
        device.tell(new GruCommand.Execute(context, Instructions.one(Instructions.LOAD, va, 0), 0, batch.getRef()));
        assertThat(batch.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        // A slow secondary holds a discard of the page open; the device has flushed it once it saw the start.
        TestProbe<MmuNotification> slow = kit.createTestProbe();
        TestProbe<MmCommand.Registered> registered = kit.createTestProbe();
        p.process().tell(new MmCommand.Register(slow.getRef(), Interest.WHOLE_MM, 900, "slow",
                Duration.ofSeconds(30), registered.getRef()));
        registered.receiveMessage();
        TestProbe<MmResult> discarded = kit.createTestProbe();
        p.process().tell(new MmCommand.MadviseDontneed(va, 4096, discarded.getRef()));
        MmuNotification.InvalidateStart start = slow.expectMessageClass(MmuNotification.InvalidateStart.class);
        TestProbe<GruStats> stats = kit.createTestProbe();
        stats.awaitAssert(() -> {
            device.tell(new GruCommand.GetStats(stats.getRef()));
            assertThat(stats.receiveMessage().flushes()).isPositive();
            return null;
        });

        // The load waits for the end, and the binding is re-created meanwhile.
        device.tell(new GruCommand.Execute(context, Instructions.one(Instructions.LOAD, va, 0), 0, batch.getRef()));
        if (variant == Variant.NONE) {
            batch.expectNoMessage(Duration.ofMillis(100)); // handed the invalidation: it still waits
        } else {
            GruCommand.BatchResult r = batch.receiveMessage();
            assertThat(r.status()).as("dropped in from the PTE the barrier is about to clear")
                    .isEqualTo(GruCommand.BatchResult.Status.DONE);
            assertThat(r.loadSum()).isEqualTo(41);
        }
        GruStats s = stats.awaitAssert(() -> {
            device.tell(new GruCommand.GetStats(stats.getRef()));
            GruStats now = stats.receiveMessage();
            assertThat(now.registrations()).as("the first registration and the churned one").isEqualTo(2);
            return now;
        });
        assertThat(s.churns()).isEqualTo(1);
        assertThat(s.registrationsInFlight()).as("the new registration was handed the discard in flight")
                .isEqualTo(variant == Variant.NONE ? 1 : 0);

        start.replyTo().tell(NotifierReply.Ack.clean(start.subscription(), start.batch()));
        assertThat(discarded.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        if (variant == Variant.NONE) {
            assertThat(batch.receiveMessage().status()).as("after the end the page is gone: a host fault")
                    .isEqualTo(GruCommand.BatchResult.Status.FAULT);
            assertThat(events.violations()).isEmpty();
        } else {
            assertThat(events.violations()).as("freed under the churned binding's TLB entry").isNotEmpty()
                    .allMatch(v -> v.startsWith("I3"));
        }
    }

    @Test
    void aScenarioRunWithChurnAndSlowAcksReRegistersInsideInvalidationsAndStaysCoherent() {
        DeviceTranslationTracker events = new DeviceTranslationTracker();
        Settings settings = Settings.withOverrides(Map.of("host.memory", "32m", "notifier.strategy", "range",
                "gru.context-churn", "1", "gru.slow-ack", "5ms", "gru.region", "256k"));
        HostContext host = HostContext.create(settings, events);
        TestProbe<GruResult> done = kit.createTestProbe();
        kit.spawn(GruScenario.create(host, new GruScenario.Params(GruSettings.read(settings), 20_000, 7, true),
                done.getRef()));
        GruResult r = done.receiveMessage(Duration.ofSeconds(120));

        assertThat(r.slowAcks()).as("invalidations held open by the slow subscriber").isPositive();
        assertThat(r.churns()).as("bindings re-created").isPositive();
        assertThat(r.registrations()).as("one per process, then one per churn")
                .isEqualTo(r.processes() + r.churns());
        assertThat(r.registrationsInFlight()).as("registrations that landed inside invalidations").isPositive();
        assertThat(r.fields()).containsKeys("churns", "registrations", "registrationsInFlight", "slowAcks");
        assertThat(events.violations()).isEmpty();
        assertThat(r.audit().problems()).isEmpty();
    }
}
