package io.shadowmmu.testkit.junit;

import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;

/** The extension by annotation, on Akka's manual clock: a timer fires exactly when the test advances time. */
@ExtendWith(ShadowTestKit.class)
@KitOptions(manualTime = true)
class ManualTimeKitTest {

    /** Tells {@code target} "fired" once, {@code after} the start. */
    private static Behavior<String> alarm(Duration after, ActorRef<String> target) {
        return Behaviors.withTimers(timers -> {
            timers.startSingleTimer("fire", after);
            return Behaviors.receive(String.class).onMessageEquals("fire", () -> {
                target.tell("fired");
                return Behaviors.stopped();
            }).build();
        });
    }

    @Test
    void aTimerFiresOnlyWhenTimePasses(ShadowTestKit kit, ManualTime time) {
        TestProbe<String> probe = kit.createTestProbe();
        kit.spawn(alarm(Duration.ofSeconds(30), probe.getRef()));
        time.expectNoMessageFor(Duration.ofSeconds(29), probe);
        time.timePasses(Duration.ofSeconds(2));
        probe.expectMessage("fired");
    }

    @Test
    void anHourOfSimulatedTimeTakesNoWallClockTime(ShadowTestKit kit) {
        TestProbe<String> probe = kit.createTestProbe();
        kit.spawn(alarm(Duration.ofHours(1), probe.getRef()));
        long start = System.nanoTime();
        kit.manualTime().timePasses(Duration.ofHours(1).plusSeconds(1));
        probe.expectMessage("fired");
        org.assertj.core.api.Assertions.assertThat(Duration.ofNanos(System.nanoTime() - start))
                .isLessThan(Duration.ofSeconds(30));
    }
}
