package io.shadowmmu.testkit.junit;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.assertj.core.api.Assertions.assertThat;

/** One test instance for the class: the kit arrives through the constructor, before any lifecycle callback. */
@ExtendWith(ShadowTestKit.class)
@KitOptions(config = "shadowmmu.testkit-test.per-class = yes")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PerClassKitTest {
    private final ActorTestKit testKit;

    PerClassKitTest(ActorTestKit testKit) {
        this.testKit = testKit;
    }

    @Test
    void theConstructorsKitIsTheOneTestsGet(ActorTestKit fromParameter) {
        assertThat(fromParameter).isSameAs(testKit);
        assertThat(testKit.system().settings().config().getString("shadowmmu.testkit-test.per-class"))
                .isEqualTo("yes");
        TestProbe<String> probe = testKit.createTestProbe();
        probe.getRef().tell("alive");
        probe.expectMessage("alive");
    }
}
