package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A munmap of a page whose migration is still waiting for the secondaries: the frame is freed only after they acked,
 * never while one may still translate it (found by the testkit's fault stress test).
 */
class MigrationUnmapTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    @Test
    void unmappingAPageUnderMigrationWaitsForTheSecondariesBeforeFreeingItsFrame() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("notifier.ack-deadline", "10s"));
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 42);
        HostFixture.Subscriber sub = h.subscribe(mm);
        PageReply.Granted page = h.gup(mm, va, false); // the secondary now translates this frame

        TestProbe<MmCommand.PressureDone> migrated = kit.createTestProbe();
        mm.tell(new MmCommand.MigratePage(va, page.pfn(), page.generation(), migrated.getRef()));
        MmuNotification.InvalidateStart migrate = sub.expectStart();
        assertThat(migrate.event()).isEqualTo(InvalidationEvent.MIGRATE);

        // The secondary has not acked the migration yet, so it may still use the old frame.
        TestProbe<MmResult> unmapped = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, unmapped.getRef()));
        MmuNotification.InvalidateStart unmap = sub.expectStart();
        assertThat(unmap.event()).isEqualTo(InvalidationEvent.UNMAP);
        assertThat(Range.anyContains(unmap.ranges(), va)).isTrue();
        unmapped.expectNoMessage(Duration.ofMillis(100));
        assertThat(h.host.memory().refcount(page.pfn())).as("the frame outlives the unacked migration").isPositive();
        assertThat(h.host.memory().generation(page.pfn())).isEqualTo(page.generation());

        sub.ack(migrate);
        sub.ack(unmap);
        assertThat(unmapped.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(migrated.receiveMessage(Duration.ofSeconds(5)).done()).as("nothing left to migrate").isFalse();
        migrated.awaitAssert(Duration.ofSeconds(5), () -> {
            assertThat(h.host.memory().refcount(page.pfn())).as("freed once both were acked").isZero();
            return null;
        });
    }
}
