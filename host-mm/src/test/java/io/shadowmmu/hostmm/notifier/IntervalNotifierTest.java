package io.shadowmmu.hostmm.notifier;

import akka.actor.testkit.typed.javadsl.TestInbox;
import io.shadowmmu.hostmm.mm.MmCommand;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The subscriber-side bookkeeping on its own: no actor system, replies land in inboxes. */
class IntervalNotifierTest {
    private static final long PAGE = Range.PAGE_SIZE;
    private static final Range FIRST = Range.ofPages(0x10000, 4);
    private static final Range OTHER = Range.ofPages(0x80000, 4);

    private final List<String> retried = new ArrayList<>();
    private final IntervalNotifier<String> notifier = new IntervalNotifier<>(0, retried::add);
    private final Recording handler = new Recording();
    private final TestInbox<NotifierReply> host = TestInbox.create();

    private static MmCommand.Registered registration(long subscription, List<MmCommand.InFlight> inFlight) {
        return new MmCommand.Registered(7, subscription, new AccessGrant(), inFlight, null);
    }

    private MmuNotification.InvalidateStart start(long subscription, long batch, Range r) {
        return new MmuNotification.InvalidateStart(subscription, 7, batch, List.of(r), InvalidationEvent.UNMAP, true,
                host.getRef());
    }

    private static MmuNotification.InvalidateEnd end(long subscription, long batch, Range r) {
        return new MmuNotification.InvalidateEnd(subscription, 7, batch, List.of(r));
    }

    @Test
    void aFaultThatRacedAnInvalidationMustRetryAndOneOutsideItNeedNot() {
        notifier.registered(registration(3, List.of()));
        long sampled = notifier.readBegin();
        assertThat(notifier.readRetry(sampled, FIRST.start())).isFalse();

        notifier.dispatch(start(3, 1, FIRST), handler);
        assertThat(handler.starts).hasSize(1);
        assertThat(notifier.invalidating(FIRST.start())).isTrue();
        assertThat(notifier.invalidating(OTHER.start())).isFalse();
        assertThat(notifier.readRetry(sampled, FIRST.start() + PAGE)).isTrue();
        assertThat(notifier.readRetry(sampled, OTHER.start())).isFalse();
        assertThat(notifier.readRetry(sampled)).isTrue(); // no address: any invalidation counts

        notifier.dispatch(end(3, 1, FIRST), handler);
        assertThat(notifier.invalidating(FIRST.start())).isFalse();
        assertThat(notifier.activeInvalidations()).isZero();
        assertThat(notifier.readRetry(sampled, OTHER.start())).isTrue(); // the sequence moved
        assertThat(notifier.readRetry(notifier.readBegin(), FIRST.start())).isFalse();
        assertThat(handler.ends).isEqualTo(1);
    }

    @Test
    void aNewcomerTreatsInFlightInvalidationsAsStartedAndTheBrokenVariantDoesNot() {
        notifier.registered(registration(4, List.of(new MmCommand.InFlight(9, List.of(FIRST)))));
        assertThat(notifier.invalidating(FIRST.start())).isTrue();
        notifier.dispatch(end(4, 9, FIRST), handler);
        assertThat(notifier.invalidating(FIRST.start())).isFalse();

        IntervalNotifier<String> broken = new IntervalNotifier<>(0, null);
        broken.registeredUnquiesced(registration(4, List.of(new MmCommand.InFlight(9, List.of(FIRST)))));
        assertThat(broken.invalidating(FIRST.start())).isFalse();
    }

    @Test
    void parkedWaitersRunAgainOnRegistrationAndOnEveryEnd() {
        notifier.park("before registration");
        notifier.registered(registration(5, List.of()));
        assertThat(retried).containsExactly("before registration");

        notifier.dispatch(start(5, 1, FIRST), handler);
        notifier.park("fault in the range");
        assertThat(notifier.parkedCount()).isEqualTo(1);
        notifier.dispatch(end(5, 1, FIRST), handler);
        assertThat(retried).containsExactly("before registration", "fault in the range");
        assertThat(notifier.parkedCount()).isZero();
    }

    @Test
    void messagesForAFencedSubscriptionAreAnsweredAsDoneAndReachNoHandler() {
        notifier.registered(registration(6, List.of()));
        long sampled = notifier.readBegin();
        notifier.dispatch(new MmuNotification.Fenced(6, 7, "deadline"), handler);
        assertThat(handler.fences).isEqualTo(1);
        assertThat(notifier.registered()).isFalse();
        assertThat(notifier.grant()).isNull();
        assertThat(notifier.readRetry(sampled, OTHER.start())).isTrue(); // a fence makes every sample stale

        assertThat(notifier.dispatch(start(6, 2, FIRST), handler)).isFalse();
        assertThat(handler.starts).isEmpty();
        assertThat(host.receiveMessage()).isEqualTo(NotifierReply.Ack.clean(6, 2));

        notifier.registered(registration(8, List.of()));
        assertThat(notifier.dispatch(new MmuNotification.Fenced(6, 7, "old"), handler)).isFalse();
        assertThat(notifier.registered()).isTrue();
    }

    @Test
    void youngQueriesAreAnsweredFromTheHandler() {
        notifier.registered(registration(2, List.of()));
        handler.young = true;
        notifier.dispatch(new MmuNotification.ClearYoung(2, 7, 11, FIRST, host.getRef()), handler);
        assertThat(host.receiveMessage()).isEqualTo(new NotifierReply.YoungReport(2, 11, true));
        assertThat(handler.clears).isEqualTo(1);
        handler.young = false;
        notifier.dispatch(new MmuNotification.TestYoung(2, 7, 12, FIRST, host.getRef()), handler);
        assertThat(host.receiveMessage()).isEqualTo(new NotifierReply.YoungReport(2, 12, false));
        assertThat(handler.clears).isEqualTo(1);
    }

    @Test
    void theSequenceWrapsAndDuplicatedStartsAndEndsChangeNothing() {
        IntervalNotifier<String> nearWrap = new IntervalNotifier<>(Long.MAX_VALUE, null);
        nearWrap.registered(registration(1, List.of()));
        long sampled = nearWrap.readBegin();
        nearWrap.dispatch(start(1, 1, FIRST), handler);
        nearWrap.dispatch(start(1, 2, OTHER), handler);
        nearWrap.dispatch(start(1, 2, OTHER), handler); // duplicated by a faulty link
        assertThat(nearWrap.activeInvalidations()).isEqualTo(2);
        nearWrap.dispatch(end(1, 1, FIRST), handler);
        nearWrap.dispatch(end(1, 1, FIRST), handler); // duplicated: batch 2 is still running
        assertThat(nearWrap.invalidating(OTHER.start())).isTrue();
        assertThat(nearWrap.sequence()).isEqualTo(Long.MIN_VALUE);
        assertThat(nearWrap.readRetry(sampled, OTHER.start())).isTrue();
        assertThat(nearWrap.invalidating(OTHER.start())).isTrue(); // the other start has not ended
        nearWrap.dispatch(end(1, 2, OTHER), handler);
        nearWrap.dispatch(end(1, 2, OTHER), handler); // duplicated by a faulty link
        assertThat(nearWrap.activeInvalidations()).isZero();
        assertThat(nearWrap.sequence()).isEqualTo(Long.MIN_VALUE + 1); // one step per batch, not per message
        nearWrap.dispatch(start(1, 3, FIRST), handler);
        assertThat(nearWrap.invalidating(FIRST.start())).isTrue();
    }

    private static final class Recording implements IntervalNotifier.Handler {
        final List<MmuNotification.InvalidateStart> starts = new ArrayList<>();
        int ends;
        int fences;
        int clears;
        boolean young;

        @Override
        public void invalidateStart(MmuNotification.InvalidateStart start) {
            starts.add(start);
        }

        @Override
        public void invalidateEnd(MmuNotification.InvalidateEnd end) {
            ends++;
        }

        @Override
        public void release(MmuNotification.Release release) {
        }

        @Override
        public boolean young(Range range, boolean clear) {
            if (clear) {
                clears++;
            }
            return young;
        }

        @Override
        public void fenced(MmuNotification.Fenced fenced) {
            fences++;
        }
    }
}
