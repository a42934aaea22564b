package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link MmCommand.Accesses}: several accesses of one process in one message, one reply. */
class AccessesTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static final long PAGE = 4096;

    private static HostFixture host() {
        return new HostFixture(kit.testKit(), Map.of("notifier.strategy", "gather", "notifier.ack-deadline", "10s"));
    }

    @Test
    void writesThenReadsEveryWordInOrderWithOneReply() {
        HostFixture h = host();
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4 * PAGE);
        long[] vas = {va, va + PAGE + 8, va + 3 * PAGE + 16, va + 8};
        long[] values = {11, 22, 33, 44};

        MmResult written = h.call(mm, r -> new MmCommand.Accesses(vas, true, values, r));
        assertThat(written).isInstanceOf(MmResult.Words.class);
        assertThat(((MmResult.Words) written).values()).containsExactly(11, 22, 33, 44);
        assertThat(h.stats(mm).faults().anonZeroFill()).as("one fault per fresh page").isEqualTo(3);

        MmResult read = h.call(mm, r -> new MmCommand.Accesses(new long[]{va + 8, va + 3 * PAGE + 16, va + PAGE + 8},
                false, null, r));
        assertThat(((MmResult.Words) read).values()).containsExactly(44, 33, 22);
        assertThat(h.read(mm, va)).isEqualTo(11);
    }

    @Test
    void anUnalignedAddressOrAMissingValueDoesNothing() {
        HostFixture h = host();
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 2 * PAGE);

        MmResult unaligned = h.call(mm, r -> new MmCommand.Accesses(new long[]{va, va + PAGE + 3}, true,
                new long[]{1, 2}, r));
        assertThat(((MmResult.Failed) unaligned).errno()).isEqualTo(Errno.EINVAL);
        MmResult short_ = h.call(mm, r -> new MmCommand.Accesses(new long[]{va, va + PAGE}, true, new long[]{1}, r));
        assertThat(((MmResult.Failed) short_).errno()).isEqualTo(Errno.EINVAL);
        assertThat(h.read(mm, va)).as("the first write of a refused batch").isZero();
    }

    @Test
    void aFailedAccessStopsTheBatchAfterTheOnesBeforeIt() {
        HostFixture h = host();
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, PAGE);
        long unmapped = va + 64 * PAGE;

        MmResult r = h.call(mm, reply -> new MmCommand.Accesses(new long[]{va, unmapped, va + 8}, true,
                new long[]{5, 6, 7}, reply));
        assertThat(r.ok()).isFalse();
        assertThat(((MmResult.Failed) r).detail()).startsWith("access 1 of 3");
        assertThat(h.read(mm, va)).isEqualTo(5);
        assertThat(h.read(mm, va + 8)).as("the access after the failed one").isZero();
    }

    @Test
    void aBatchWaitsForAnInvalidationInFlightOverOneOfItsPagesAndThenFinishes() {
        HostFixture h = host();
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 3 * PAGE);
        h.write(mm, va + PAGE, 1);
        HostFixture.Subscriber s = h.subscribe(mm);

        TestProbe<MmResult> dontneed = kit.createTestProbe();
        mm.tell(new MmCommand.MadviseDontneed(va + PAGE, PAGE, dontneed.getRef()));
        MmuNotification.InvalidateStart start = s.expectStart();

        TestProbe<MmResult> batch = kit.createTestProbe();
        mm.tell(new MmCommand.Accesses(new long[]{va, va + PAGE, va + 2 * PAGE}, true, new long[]{7, 8, 9},
                batch.getRef()));
        batch.expectNoMessage(Duration.ofMillis(200));
        assertThat(h.read(mm, va)).as("the access before the waiting one ran").isEqualTo(7);
        assertThat(h.read(mm, va + 2 * PAGE)).as("the accesses after the waiting one wait too").isZero();

        s.ack(start);
        assertThat(dontneed.receiveMessage().ok()).isTrue();
        MmResult done = batch.receiveMessage(Duration.ofSeconds(5));
        assertThat(((MmResult.Words) done).values()).containsExactly(7, 8, 9);
        assertThat(h.read(mm, va + PAGE)).isEqualTo(8);
        assertThat(h.read(mm, va + 2 * PAGE)).isEqualTo(9);
        assertThat(h.audit().problems()).isEmpty();
    }
}
