package io.shadowmmu.gru.scenario;

import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The gru scenario end to end on a real host, with the stressor changing the memory under the devices. */
class GruScenarioTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    @ParameterizedTest
    @ValueSource(strings = {"GATHER", "RANGE", "PER_PT_PAGE", "TWO_PHASE"})
    void processesOnDevicesUnderHostStressStayCoherent(String strategy) {
        DeviceTranslationTracker events = new DeviceTranslationTracker();
        boolean stress = Boolean.getBoolean("shadowmmu.stress");
        Map<String, String> overrides = new java.util.HashMap<>(Map.of("host.memory", "32m",
                "notifier.strategy", strategy, "gru.processes", "6", "gru.devices", "2",
                "gru.contexts-per-device", "2", "gru.region", "256k", "gru.tlb.entries", "64", "gru.tlb.ways", "4"));
        // The host's own daemons move and merge the same pages meanwhile.
        overrides.putAll(Map.of("migration.enabled", "on", "migration.interval", "2ms", "ksm.enabled", "on",
                "ksm.interval", "5ms"));
        Settings settings = Settings.withOverrides(overrides);
        HostContext host = HostContext.create(settings, events);
        long instructions = stress ? 2_000_000 : 60_000;
        TestProbe<GruResult> done = kit.createTestProbe();
        kit.spawn(GruScenario.create(host, new GruScenario.Params(GruSettings.read(settings), instructions, 7, true),
                done.getRef()));
        GruResult r = done.receiveMessage(Duration.ofSeconds(stress ? 300 : 30));

        assertThat(r.instructions()).isEqualTo(instructions);
        assertThat(r.devices()).isEqualTo(2);
        assertThat(r.contexts()).isEqualTo(6);
        assertThat(r.hits()).isPositive();
        assertThat(r.dropins()).isPositive();
        assertThat(r.dropinFailures()).isPositive();
        assertThat(r.hostFaults()).isGreaterThanOrEqualTo(r.dropinFailures() - r.segvs());
        assertThat(r.flushes()).isPositive();
        assertThat(r.stress().mprotects() + r.stress().munmaps()).isPositive();
        assertThat(r.deviceViolations()).isZero();
        assertThat(r.checkedReads()).as("every process checks its device reads against its golden copy")
                .isPositive();
        assertThat(r.staleReads()).isZero();
        assertThat(events.installs()).isPositive();
        assertThat(events.violations()).as("device translations outlived their frames, or a device saw I3")
                .isEmpty();
        assertThat(r.audit().problems()).isEmpty();
    }

    @org.junit.jupiter.api.Test
    void theBlockingRunnerReturnsTheResultOfItsOwnActorSystem() throws Exception {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "16m", "gru.processes", "2",
                "gru.region", "64k"));
        HostContext host = HostContext.create(settings, CoherenceEvents.NONE);
        GruResult r = GruScenario.run(host, new GruScenario.Params(GruSettings.read(settings), 5_000, 3, false),
                ConfigFactory.parseString("akka.loglevel = WARNING").withFallback(settings.root()),
                Duration.ofSeconds(30));
        assertThat(r.instructions()).isEqualTo(5_000);
        assertThat(r.hits() + r.misses()).isGreaterThanOrEqualTo(5_000 - r.segvs());
        assertThat(r.stress().mprotects()).isZero();
        assertThat(r.fields()).containsEntry("instructions", 5_000L).containsKeys("dropinFailures", "handleWaits");
        assertThat(r.audit().problems()).isEmpty();
    }
}
