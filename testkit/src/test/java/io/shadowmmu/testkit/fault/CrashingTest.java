package io.shadowmmu.testkit.fault;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PreRestart;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Crash points, restarts from scratch at the same address, PreRestart first, and only injected crashes restart. */
class CrashingTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    /** Counts the messages of its incarnation and replies the count; "boom" is a real bug; says "restarting". */
    private static Behavior<Object> counter(ActorRef<String> out) {
        return Behaviors.setup(ctx -> {
            int[] seen = {0};
            return Behaviors.receive(Object.class)
                    .onMessageEquals("boom", () -> {
                        throw new IllegalStateException("a real bug");
                    })
                    .onAnyMessage(m -> {
                        seen[0]++;
                        out.tell("seen " + seen[0]);
                        return Behaviors.same();
                    })
                    .onSignal(PreRestart.class, s -> {
                        out.tell("restarting");
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    @Test
    void aPlannedCrashRestartsTheActorWithEmptyStateAtTheSameAddress() {
        TestProbe<String> out = kit.createTestProbe();
        CrashCounters counters = new CrashCounters();
        ActorRef<Object> ref = kit.spawn(Crashing.supervised(counter(out.getRef()), CrashPlan.seeded(1).atMessages(3),
                counters));
        ref.tell("a");
        out.expectMessage("seen 1");
        ref.tell("b");
        out.expectMessage("seen 2");
        ref.tell("c"); // message 3: crashes before the handler sees it
        out.expectMessage("restarting");
        ref.tell("d");
        out.expectMessage("seen 1");
        assertThat(counters.crashes()).isEqualTo(1);
        assertThat(counters.messages()).isEqualTo(4);
    }

    @Test
    void aCrashCanBeRequestedForTheNextMessage() {
        TestProbe<String> out = kit.createTestProbe();
        CrashCounters counters = new CrashCounters();
        ActorRef<Object> ref = kit.spawn(Crashing.supervised(counter(out.getRef()), CrashPlan.seeded(1), counters));
        ref.tell("a");
        out.expectMessage("seen 1");
        counters.crashAtNextMessage();
        ref.tell("b");
        out.expectMessage("restarting");
        ref.tell("c");
        out.expectMessage("seen 1");
        assertThat(counters.crashes()).isEqualTo(1);
    }

    @Test
    void randomCrashesFollowTheSeed() {
        assertThat(crashPoints(42)).isEqualTo(crashPoints(42)).isNotEqualTo(crashPoints(43)).isNotEmpty();
    }

    /** Which of 200 messages crash an actor whose plan crashes one in ten at random. */
    private static List<Integer> crashPoints(long seed) {
        TestProbe<String> out = kit.createTestProbe();
        ActorRef<Object> ref = kit.spawn(Crashing.supervised(counter(out.getRef()),
                CrashPlan.seeded(seed).randomly(0.1), new CrashCounters()));
        List<Integer> points = new ArrayList<>();
        for (int i = 1; i <= 200; i++) {
            ref.tell(i);
            if (out.receiveMessage().equals("restarting")) {
                points.add(i);
            }
        }
        return points;
    }

    @Test
    void childrenOutliveTheRestartUntilTheBehaviourStopsThem() {
        TestProbe<ActorRef<Object>> children = kit.createTestProbe();
        TestProbe<String> out = kit.createTestProbe();
        Behavior<Object> parent = Behaviors.setup(ctx -> {
            ActorRef<Object> child = ctx.spawnAnonymous(Behaviors.receive(Object.class)
                    .onAnyMessage(m -> {
                        out.getRef().tell("child got " + m);
                        return Behaviors.same();
                    }).build());
            children.getRef().tell(child);
            return Behaviors.receive(Object.class).onAnyMessage(m -> Behaviors.same()).build();
        });
        CrashCounters counters = new CrashCounters();
        ActorRef<Object> ref = kit.spawn(Crashing.supervised(parent, CrashPlan.seeded(1).atMessages(1), counters));
        ActorRef<Object> first = children.receiveMessage();
        ref.tell("crash");
        ActorRef<Object> second = children.receiveMessage(); // the new incarnation's setup ran
        assertThat(second).isNotEqualTo(first);
        first.tell("hello");
        out.expectMessage("child got hello");
        assertThat(counters.crashes()).isEqualTo(1);
    }

    @Test
    void aRealFailureIsNotHiddenByTheInjectedRestarts() {
        TestProbe<String> out = kit.createTestProbe();
        ActorRef<Object> ref = kit.spawn(Crashing.supervised(counter(out.getRef()), CrashPlan.seeded(1),
                new CrashCounters()));
        ref.tell("boom");
        out.expectTerminated(ref);
    }

    @Test
    void badPlansAreRefusedWithTheReason() {
        assertThatThrownBy(() -> CrashPlan.seeded(1).randomly(1.5)).hasMessageContaining("crash probability = 1.5");
        assertThatThrownBy(() -> CrashPlan.seeded(1).atMessages(0)).hasMessageContaining("numbered from 1");
    }
}
