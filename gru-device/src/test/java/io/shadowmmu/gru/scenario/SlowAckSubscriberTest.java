package io.shadowmmu.gru.scenario;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The slow-ack subscriber holds each invalidation of the mm it watches open for its delay, and no longer. */
class SlowAckSubscriberTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING");

    private static final Duration DELAY = Duration.ofMillis(80);

    @Test
    void aRangeInvalidationCompletesOnlyAfterTheDelay() {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "4m", "notifier.strategy", "range"));
        TouchedProcess touched = TouchedProcess.start(kit, settings, CoherenceEvents.NONE, 1);
        HostCommand.ProcessSpawned p = touched.spawned();
        TestProbe<MmResult> results = touched.results();
        long va = touched.va();

        ActorRef<SlowAckSubscriber.Command> slow = kit.spawn(SlowAckSubscriber.create(DELAY));
        TestProbe<MmCommand.Registered> registered = kit.createTestProbe();
        slow.tell(new SlowAckSubscriber.Subscribe(p.process(), registered.getRef()));
        assertThat(registered.receiveMessage().inFlight()).isEmpty();

        long started = System.nanoTime();
        p.process().tell(new MmCommand.MadviseDontneed(va, 4096, results.getRef()));
        assertThat(results.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the barrier waited for the slow ack")
                .isGreaterThanOrEqualTo(DELAY);

        TestProbe<SlowAckSubscriber.Count> count = kit.createTestProbe();
        slow.tell(new SlowAckSubscriber.GetCount(count.getRef()));
        assertThat(count.receiveMessage().delayedAcks()).isEqualTo(1);

        // The exit is not held back: release is acknowledged at once.
        TestProbe<MmResult> exited = kit.createTestProbe();
        p.process().tell(new MmCommand.Exit(exited.getRef()));
        assertThat(exited.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
    }

    @Test
    void aDelayMustBePositive() {
        assertThatThrownBy(() -> SlowAckSubscriber.create(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positive delay");
    }
}
