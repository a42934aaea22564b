package io.shadowmmu.testkit.junit;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.LoggingTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The extension registered on a static field: one kit for the class, usable from lifecycle methods and tests. */
class ShadowTestKitTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("shadowmmu.testkit-test.marker = 7");

    private record Ping(String text, ActorRef<String> replyTo) {
    }

    private static Behavior<Ping> echo() {
        return Behaviors.receive(Ping.class).onMessage(Ping.class, p -> {
            p.replyTo().tell(p.text());
            return Behaviors.same();
        }).build();
    }

    static ActorRef<Ping> echo;

    @BeforeAll
    static void spawnOnceForTheClass(ActorTestKit fromParameter) {
        assertThat(fromParameter).isSameAs(kit.testKit());
        echo = kit.spawn(echo(), "echo");
    }

    @Test
    void actorsSpawnedInBeforeAllAnswer() {
        TestProbe<String> probe = kit.createTestProbe();
        echo.tell(new Ping("hello", probe.getRef()));
        probe.expectMessage("hello");
    }

    @Test
    void theKitTheSystemAndTheExtensionResolveAsParameters(ActorTestKit testKit, ActorSystem<?> system,
                                                          ShadowTestKit self) {
        assertThat(testKit).isSameAs(kit.testKit());
        assertThat(system).isSameAs(kit.system());
        assertThat(self).isSameAs(kit);
        assertThat(system.name()).isEqualTo("io-shadowmmu-testkit-junit-ShadowTestKitTest");
    }

    @Test
    void theGivenConfigIsLaidOverTheDefaults() {
        assertThat(kit.system().settings().config().getInt("shadowmmu.testkit-test.marker")).isEqualTo(7);
        assertThat(kit.system().settings().config().getString("akka.loglevel")).isEqualTo("INFO");
    }

    @Test
    void manualTimeIsRefusedOnTheRealScheduler() {
        assertThatThrownBy(kit::manualTime).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("withManualTime");
    }

    @Test
    void loggingTestKitSeesActorLogsWhileTheyAreCaptured() {
        assertThat(kit.capturingLogs()).isTrue();
        ActorRef<String> logger = kit.spawn(Behaviors.setup(ctx -> Behaviors.receive(String.class)
                .onMessage(String.class, s -> {
                    ctx.getLog().info("got {}", s);
                    return Behaviors.same();
                }).build()));
        LoggingTestKit.info("got marker-42").expect(kit.system(), () -> {
            logger.tell("marker-42");
            return null;
        });
    }

    @Nested
    class Inner {
        @Test
        void aNestedClassSharesTheEnclosingKit(ActorTestKit testKit) {
            assertThat(testKit).isSameAs(kit.testKit());
            TestProbe<String> probe = testKit.createTestProbe();
            echo.tell(new Ping("nested", probe.getRef()));
            probe.expectMessage("nested");
        }
    }
}
