package io.shadowmmu.gru.workload;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** P processes on D devices issuing mixed instructions while they churn their own memory. */
class GruWorkloadTest {
    private static final boolean STRESS = Boolean.getBoolean("shadowmmu.stress");
    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING")
                .withFallback(ConfigFactory.load()));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private GruWorkload.Result run(Map<String, String> overrides, GruWorkload.Plan plan,
                                   DeviceTranslationTracker events) {
        Settings settings = Settings.withOverrides(overrides);
        HostContext host = HostContext.create(settings, events);
        ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));
        TestProbe<GruWorkload.Result> done = kit.createTestProbe();
        kit.spawn(GruWorkload.create(plan, GruSettings.from(settings), hostActor, host.memory(), events,
                done.getRef()));
        GruWorkload.Result r = done.receiveMessage(Duration.ofSeconds(STRESS ? 300 : 30));
        kit.stop(hostActor);
        return r;
    }

    @Test
    void processesOnDevicesCompleteWithChurnAndNoViolation() {
        DeviceTranslationTracker events = new DeviceTranslationTracker();
        long perProcess = STRESS ? 500_000 : 20_000;
        GruWorkload.Plan plan = new GruWorkload.Plan(6, 2, perProcess, 256 * 4096, 256, Mix.DEFAULT, 7, 4);
        GruWorkload.Result r = run(Map.of("host.memory", "32m", "gru.contexts", "4", "gru.tlb.entries", "128",
                "gru.tlb.ways", "4"), plan, events);

        assertThat(r.processes()).hasSize(6);
        assertThat(r.instructions()).isEqualTo(6 * perProcess);
        assertThat(r.devices()).hasSize(2);
        assertThat(r.total().hits()).isPositive();
        assertThat(r.total().dropins()).isPositive();
        assertThat(r.total().flushes()).as("churn invalidated device translations").isPositive();
        assertThat(r.total().entriesFlushed()).isPositive();
        assertThat(r.total().hits() + r.total().misses()).isGreaterThanOrEqualTo(r.instructions());
        for (GruProcess.Report p : r.processes()) {
            assertThat(p.churnOps()).isPositive();
            assertThat(p.closed()).isFalse();
        }
        assertThat(events.violations()).isEmpty();
        assertThat(r.total().violations()).isZero();
    }

    @Test
    void moreProcessesThanContextsStealContexts() {
        DeviceTranslationTracker events = new DeviceTranslationTracker();
        GruWorkload.Plan plan = new GruWorkload.Plan(4, 1, 5_000, 64 * 4096, 64, Mix.DEFAULT, 3, 0);
        GruWorkload.Result r = run(Map.of("host.memory", "16m", "gru.contexts", "2"), plan, events);
        assertThat(r.instructions()).isEqualTo(4 * 5_000);
        assertThat(r.total().steals()).isPositive();
        assertThat(r.total().asidFlushes()).isPositive();
        assertThat(events.violations()).isEmpty();
    }
}
