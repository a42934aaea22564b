package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.BehaviorTestKit;
import akka.actor.testkit.typed.javadsl.TestInbox;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * GATHER's coalescing (D88), message by message: the mm runs in a {@link BehaviorTestKit}, so the test decides when
 * the mm's message to itself (send what is queued) is served, and which changes came before it.
 */
class CoalesceTest {
    private static final long PAGE = 4096;

    /** One mm, its host and its one subscriber. */
    private static final class Mm {
        private final HostContext host;
        private final BehaviorTestKit<MmCommand> mm;
        private final TestInbox<MmuNotification> subscriber = TestInbox.create();
        private long subscription;
        private long va;

        private Mm(boolean coalesce) {
            host = HostContext.create(Settings.withOverrides(Map.of("host.memory", "4m", "notifier.strategy",
                    "gather", "notifier.coalesce", coalesce ? "on" : "off")), CoherenceEvents.NONE);
            TestInbox<HostCommand> hostActor = TestInbox.create();
            mm = BehaviorTestKit.create(MmActor.create(host, hostActor.getRef(), 1, "p"));
        }

        /** Maps and writes {@code pages} pages, then registers the one subscriber. */
        private void setUp(int pages) {
            TestInbox<MmResult> r = TestInbox.create();
            mm.run(MmCommand.Mmap.anonymous(pages * PAGE, Protection.READ_WRITE, r.getRef()));
            va = ((MmResult.Done) r.receiveMessage()).value();
            for (int i = 0; i < pages; i++) {
                mm.run(new MmCommand.Access(va + i * PAGE, true, i + 1, r.getRef()));
                assertThat(r.receiveMessage().ok()).isTrue();
            }
            TestInbox<MmCommand.Registered> reg = TestInbox.create();
            mm.run(new MmCommand.Register(subscriber.getRef(), Interest.WHOLE_MM, 100, "probe", null, reg.getRef()));
            subscription = reg.receiveMessage().subscription();
        }

        private TestInbox<MmResult> dontneed(int page) {
            TestInbox<MmResult> r = TestInbox.create();
            mm.run(new MmCommand.MadviseDontneed(va + page * PAGE, PAGE, r.getRef()));
            return r;
        }

        /** Serves what the mm told itself, as the mailbox would after the messages already in it. */
        private void serveSelf() {
            while (mm.selfInbox().hasMessages()) {
                mm.run(mm.selfInbox().receiveMessage());
            }
        }

        private List<MmuNotification.InvalidateStart> starts() {
            List<MmuNotification.InvalidateStart> out = new ArrayList<>();
            for (MmuNotification n : subscriber.getAllReceived()) {
                if (n instanceof MmuNotification.InvalidateStart) {
                    out.add((MmuNotification.InvalidateStart) n);
                }
            }
            return out;
        }

        private MmStats.Notifier counters() {
            TestInbox<MmStats> s = TestInbox.create();
            mm.run(new MmCommand.GetStats(s.getRef()));
            return s.receiveMessage().notifier();
        }
    }

    @Test
    void changesMadeBeforeTheMmServedItsMailboxGoOutAsOneBatch() {
        Mm m = new Mm(true);
        m.setUp(8);
        long free = m.host.memory().freeFrames();
        TestInbox<MmResult> a = m.dontneed(0);
        TestInbox<MmResult> b = m.dontneed(1);
        TestInbox<MmResult> c = m.dontneed(5);
        assertThat(m.subscriber.hasMessages()).as("nobody is told before the mm served its mailbox").isFalse();

        m.serveSelf();
        List<MmuNotification.InvalidateStart> starts = m.starts();
        assertThat(starts).hasSize(1);
        assertThat(starts.get(0).event()).isEqualTo(InvalidationEvent.CLEAR);
        assertThat(starts.get(0).ranges()).as("the three changes, merged where they touch")
                .containsExactly(new Range(m.va, m.va + 2 * PAGE), new Range(m.va + 5 * PAGE, m.va + 6 * PAGE));
        assertThat(a.hasMessages() || b.hasMessages() || c.hasMessages()).as("no reply before the ack").isFalse();
        assertThat(m.host.memory().freeFrames()).as("the batch holds all three frames").isEqualTo(free);

        m.mm.run(NotifierReply.Ack.clean(m.subscription, starts.get(0).batch()));
        assertThat(a.receiveMessage().ok()).isTrue();
        assertThat(b.receiveMessage().ok()).isTrue();
        assertThat(c.receiveMessage().ok()).isTrue();
        assertThat(m.host.memory().freeFrames()).isEqualTo(free + 3);
        MmStats.Notifier n = m.counters();
        assertThat(n.invalidations()).isEqualTo(3);
        assertThat(n.batches()).isEqualTo(1);
    }

    @Test
    void aFaultOnAQueuedChangeWaitsForItsAck() {
        Mm m = new Mm(true);
        m.setUp(4);
        m.dontneed(2);
        TestInbox<MmResult> read = TestInbox.create();
        m.mm.run(new MmCommand.Access(m.va + 2 * PAGE, false, 0, read.getRef()));
        assertThat(read.hasMessages()).as("the fault parks behind the queued batch").isFalse();
        m.serveSelf();
        assertThat(read.hasMessages()).isFalse();
        m.mm.run(NotifierReply.Ack.clean(m.subscription, m.starts().get(0).batch()));
        m.serveSelf();
        MmResult r = read.receiveMessage();
        assertThat(((MmResult.Done) r).value()).as("the page was dropped: a zero-filled refault").isZero();
    }

    @Test
    void changesOfAnotherKindStartAnotherBatchInOrder() {
        Mm m = new Mm(true);
        m.setUp(4);
        m.dontneed(0);
        TestInbox<MmResult> p = TestInbox.create();
        m.mm.run(new MmCommand.Mprotect(m.va + 2 * PAGE, PAGE, Protection.READ, p.getRef()));
        m.dontneed(3);
        m.serveSelf();
        List<MmuNotification.InvalidateStart> starts = m.starts();
        assertThat(starts).extracting(MmuNotification.InvalidateStart::event)
                .containsExactly(InvalidationEvent.CLEAR, InvalidationEvent.PROTECTION_VMA, InvalidationEvent.CLEAR);
        assertThat(starts.get(0).batch()).isLessThan(starts.get(1).batch());
        for (MmuNotification.InvalidateStart s : starts) {
            m.mm.run(NotifierReply.Ack.clean(m.subscription, s.batch()));
        }
        assertThat(p.receiveMessage().ok()).isTrue();
        assertThat(m.host.memory().freeFrames()).isPositive();
    }

    @Test
    void offSendsOneBatchPerOperation() {
        Mm off = new Mm(false);
        off.setUp(4);
        off.dontneed(0);
        off.dontneed(2);
        assertThat(off.starts()).as("told at once, one batch each").hasSize(2);
        assertThat(off.mm.selfInbox().hasMessages()).isFalse();
        MmStats.Notifier n = off.counters();
        assertThat(n.invalidations()).isEqualTo(2);
        assertThat(n.batches()).isEqualTo(2);
    }
}
