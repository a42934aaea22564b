package io.shadowmmu.hostmm.mm;

import io.shadowmmu.testkit.junit.ShadowTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Host operations on pages in use that keep their contents: move_pages and MADV_PAGEOUT (each one invalidation of the
 * whole range, old frames held until the subscriber acked), and the fault-path latency setting.
 */
class LivePageOpsTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING\n"
                + "akka.scheduler.tick-duration = 1ms");

    private static final int PAGES = 8;

    private static long populate(HostFixture h, ActorRef<MmCommand> mm) {
        long base = h.mmapAnon(mm, PAGES * 4096L);
        for (int i = 0; i < PAGES; i++) {
            h.write(mm, base + i * 4096L, 1000 + i);
        }
        return base;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range"})
    void movePagesGivesEveryPageANewFrameOnlyAfterTheAckAndKeepsTheContents(String strategy) {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("notifier.strategy", strategy));
        ActorRef<MmCommand> mm = h.spawn("mover");
        long base = populate(h, mm);
        int[] before = new int[PAGES];
        for (int i = 0; i < PAGES; i++) {
            before[i] = h.gup(mm, base + i * 4096L, false).pfn();
        }
        HostFixture.Subscriber sub = h.subscribe(mm);
        TestProbe<MmResult> moved = kit.createTestProbe();
        mm.tell(new MmCommand.MovePages(base, PAGES * 4096L, moved.getRef()));
        MmuNotification.InvalidateStart start = sub.expectStart();
        assertThat(start.event()).isEqualTo(InvalidationEvent.MIGRATE);
        assertThat(start.ranges()).containsExactly(new Range(base, base + PAGES * 4096L));
        moved.expectNoMessage(Duration.ofMillis(50)); // no copy while the subscriber may still use the old frames
        sub.ack(start);
        assertThat(HostFixture.done(moved.receiveMessage(Duration.ofSeconds(5)))).isEqualTo(PAGES);
        sub.expectEnd();
        for (int i = 0; i < PAGES; i++) {
            assertThat(h.gup(mm, base + i * 4096L, false).pfn()).isNotEqualTo(before[i]);
            assertThat(h.read(mm, base + i * 4096L)).isEqualTo(1000 + i);
        }
        assertThat(h.audit().clean()).isTrue();
    }

    @Test
    void pageoutSwapsOutEveryPageAfterTheAckAndTheNextTouchSwapsItBack() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of());
        ActorRef<MmCommand> mm = h.spawn("pager");
        long base = populate(h, mm);
        HostFixture.Subscriber sub = h.subscribe(mm);
        long usedBefore = h.host.memory().usedFrames();
        TestProbe<MmResult> out = kit.createTestProbe();
        mm.tell(new MmCommand.MadvisePageout(base, PAGES * 4096L, out.getRef()));
        MmuNotification.InvalidateStart start = sub.expectStart();
        assertThat(start.event()).isEqualTo(InvalidationEvent.CLEAR);
        out.expectNoMessage(Duration.ofMillis(50));
        assertThat(h.host.memory().usedFrames()).as("frames held until the ack").isEqualTo(usedBefore);
        sub.ack(start);
        assertThat(HostFixture.done(out.receiveMessage(Duration.ofSeconds(5)))).isEqualTo(PAGES);
        sub.expectEnd();
        assertThat(h.host.memory().usedFrames()).isEqualTo(usedBefore - PAGES);
        for (int i = 0; i < PAGES; i++) {
            assertThat(h.read(mm, base + i * 4096L)).isEqualTo(1000 + i);
        }
        assertThat(h.stats(mm).pressure().swappedOut()).isEqualTo(PAGES);
        assertThat(h.stats(mm).pressure().swappedIn()).isEqualTo(PAGES);
    }

    @Test
    void withFaultReplyJitterSomeAnswersComeLateButEveryOneComes() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.fault-reply-jitter", "3ms",
                "host.fault-reply-jitter-fraction", "0.5"));
        ActorRef<MmCommand> mm = h.spawn("slow");
        long base = populate(h, mm);
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < PAGES; i++) {
                assertThat(h.gup(mm, base + i * 4096L, false).va()).isEqualTo(base + i * 4096L);
            }
        }
        long delayed = h.stats(mm).faults().repliesDelayed();
        assertThat(delayed).as("about half of 160 answers delayed").isBetween(40L, 120L);
        HostFixture none = new HostFixture(kit.testKit(), Map.of());
        ActorRef<MmCommand> quick = none.spawn("quick");
        long b = populate(none, quick);
        none.gup(quick, b, false);
        assertThat(none.stats(quick).faults().repliesDelayed()).isZero();
    }
}
