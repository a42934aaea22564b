package io.shadowmmu.testkit.fault;

import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each fault of the link on its own, on the manual clock, so delays are exact and nothing sleeps. */
class FaultyLinkTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create().withManualTime();

    private final TestProbe<NotifierReply> host = kit.createTestProbe();

    private MmuNotification start(long batch) {
        return new MmuNotification.InvalidateStart(1, 7, batch, List.of(), InvalidationEvent.UNMAP, true,
                host.getRef());
    }

    private static MmuNotification end(long batch) {
        return new MmuNotification.InvalidateEnd(1, 7, batch, List.of());
    }

    private ActorRef<MmuNotification> link(TestProbe<MmuNotification> subscriber, FaultPlan plan,
                                           FaultCounters counters) {
        return FaultyLink.notifications(kit.spawn(FaultyLink.create(subscriber.getRef(), plan, counters)));
    }

    private static long batchOf(MmuNotification m) {
        return m instanceof MmuNotification.InvalidateStart ? ((MmuNotification.InvalidateStart) m).batch()
                : ((MmuNotification.InvalidateEnd) m).batch();
    }

    @Test
    void withoutFaultsEverythingPassesInOrderAtOnce() {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(1), c);
        for (long b = 0; b < 20; b++) {
            link.tell(start(b));
        }
        for (long b = 0; b < 20; b++) {
            assertThat(batchOf(sub.receiveMessage())).isEqualTo(b);
        }
        assertThat(c.delivered()).isEqualTo(20);
    }

    @Test
    void delaysHoldMessagesUntilTheirTimeAndKeepTheirOrder(ManualTime time) {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(2).delays(Duration.ofMillis(100),
                Duration.ofMillis(500)), c);
        for (long b = 0; b < 50; b++) {
            link.tell(start(b));
        }
        time.expectNoMessageFor(Duration.ofMillis(99), sub);
        time.timePasses(Duration.ofMillis(402));
        List<Long> got = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            got.add(batchOf(sub.receiveMessage()));
        }
        assertThat(got).isSorted().hasSize(50);
        assertThat(c.delayed()).isEqualTo(50);
    }

    @Test
    void duplicatesArriveTwice() {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(3).duplicates(1.0), c);
        link.tell(start(1));
        link.tell(end(1));
        assertThat(batchOf(sub.receiveMessage())).isEqualTo(1);
        assertThat(sub.receiveMessage()).isInstanceOf(MmuNotification.InvalidateStart.class);
        assertThat(sub.receiveMessage()).isInstanceOf(MmuNotification.InvalidateEnd.class);
        assertThat(sub.receiveMessage()).isInstanceOf(MmuNotification.InvalidateEnd.class);
        assertThat(c.duplicated()).isEqualTo(2);
    }

    @Test
    void reorderingSwapsNeighboursButNeverPutsAnEndBeforeItsStart() {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(4).reorders(1.0), c);
        link.tell(start(1));
        link.tell(start(2)); // batch 1 was held: 2 overtakes it
        link.tell(start(3));
        link.tell(end(3)); // 3 was held, but an End never overtakes its Start
        List<Long> batches = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            MmuNotification m = sub.receiveMessage();
            batches.add(batchOf(m));
            kinds.add(m.getClass().getSimpleName());
        }
        assertThat(batches).containsExactly(2L, 1L, 3L, 3L);
        assertThat(kinds).containsExactly("InvalidateStart", "InvalidateStart", "InvalidateStart", "InvalidateEnd");
        assertThat(c.reordered()).isEqualTo(1);
    }

    @Test
    void aHeldMessageWithNoSuccessorStillLeaves(ManualTime time) {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(5).reorders(1.0), new FaultCounters());
        link.tell(start(9));
        time.timePasses(Duration.ofMillis(2));
        assertThat(batchOf(sub.receiveMessage())).isEqualTo(9);
    }

    @Test
    void onlyDroppableKindsAreLost() {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(6).drops(1.0,
                MmuNotification.InvalidateStart.class), c);
        link.tell(start(1));
        link.tell(end(1));
        assertThat(sub.receiveMessage()).isInstanceOf(MmuNotification.InvalidateEnd.class);
        assertThat(c.dropped()).isEqualTo(1);
    }

    @Test
    void slowAcksReachTheHostOnlyAfterTheirDelay(ManualTime time) {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, FaultPlan.seeded(7).slowAcks(Duration.ofSeconds(3)), c);
        link.tell(start(1));
        MmuNotification.InvalidateStart got = (MmuNotification.InvalidateStart) sub.receiveMessage();
        got.replyTo().tell(NotifierReply.Ack.clean(got.subscription(), got.batch()));
        time.expectNoMessageFor(Duration.ofMillis(2_900), host);
        time.timePasses(Duration.ofMillis(200));
        assertThat(host.receiveMessage()).isEqualTo(NotifierReply.Ack.clean(1, 1));
        assertThat(c.slowReplies()).isEqualTo(1);
    }

    @Test
    void theSameSeedGivesTheSameFaults() {
        FaultPlan plan = FaultPlan.seeded(42).duplicates(0.3).reorders(0.3);
        assertThat(run(plan)).isEqualTo(run(plan));
        assertThat(run(plan)).isNotEqualTo(run(FaultPlan.seeded(43).duplicates(0.3).reorders(0.3)));
    }

    private List<Long> run(FaultPlan plan) {
        TestProbe<MmuNotification> sub = kit.createTestProbe();
        FaultCounters c = new FaultCounters();
        ActorRef<MmuNotification> link = link(sub, plan, c);
        for (long b = 0; b < 40; b++) {
            link.tell(start(b));
        }
        link.tell(end(1_000));
        sub.awaitAssert(() -> {
            assertThat(c.received()).isEqualTo(41);
            return null;
        });
        kit.manualTime().timePasses(Duration.ofMillis(2)); // lets a message held for reordering go
        List<Long> got = new ArrayList<>();
        for (long i = 0; i < 41 + c.duplicated(); i++) {
            got.add(batchOf(sub.receiveMessage()));
        }
        sub.expectNoMessage(Duration.ofMillis(50));
        return got;
    }

    @Test
    void badPlansAreRefusedNamingTheSetting() {
        assertThatThrownBy(() -> FaultPlan.seeded(1).duplicates(1.5)).hasMessageContaining("duplicate = 1.5");
        assertThatThrownBy(() -> FaultPlan.seeded(1).delays(Duration.ofMillis(5), Duration.ofMillis(1)))
                .hasMessageContaining("delay range");
    }
}
