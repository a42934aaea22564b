package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.hostmm.mm.AddressSpace;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmCounters;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Aging queries to the secondaries ({@code mmu_notifier_clear_young} / {@code test_young}): the host's own accessed
 * bits are read at once, each overlapping subscriber is asked, and the answer goes out when all replied or the
 * longest deadline passed (a silent subscriber counts as old: it is not worth keeping a page resident for).
 */
final class YoungQueries {
    /** The query's deadline passed. */
    record Timeout(long request) implements MmCommand.Internal {
    }

    private static final class Query {
        final MmCommand.Age request;
        final boolean hostYoung;
        int awaiting;
        int young;

        Query(MmCommand.Age request, boolean hostYoung, int awaiting) {
            this.request = request;
            this.hostYoung = hostYoung;
            this.awaiting = awaiting;
        }
    }

    private final AddressSpace space;
    private final Subscriptions subscriptions;
    private final TimerScheduler<MmCommand> timers;
    private final ActorRef<NotifierReply> replyTo;
    private final MmCounters counters;
    private final Map<Long, Query> pending = new HashMap<>();
    private long nextRequest = 1;

    YoungQueries(AddressSpace space, Subscriptions subscriptions, TimerScheduler<MmCommand> timers,
                 ActorRef<NotifierReply> replyTo) {
        this.space = space;
        this.subscriptions = subscriptions;
        this.timers = timers;
        this.replyTo = replyTo;
        this.counters = space.counters();
    }

    void ask(MmCommand.Age a) {
        boolean hostYoung = false;
        for (long va = a.range().start(); va < a.range().end(); va += PageTable.PAGE_SIZE) {
            long pte = space.pageTable().get(va);
            if (Pte.isAccessed(pte)) {
                hostYoung = true;
                if (a.clear()) {
                    space.pageTable().testAndClearAccessed(va);
                }
            }
        }
        long request = nextRequest++;
        int asked = 0;
        long deadline = 0;
        for (Subscription s : subscriptions.all()) {
            if (!s.interest.overlaps(a.range())) {
                continue;
            }
            MmuNotification query = a.clear()
                    ? new MmuNotification.ClearYoung(s.id, space.id(), request, a.range(), replyTo)
                    : new MmuNotification.TestYoung(s.id, space.id(), request, a.range(), replyTo);
            s.ref.tell(query);
            counters.sent(s.id);
            asked++;
            deadline = Math.max(deadline, s.ackDeadlineNanos);
        }
        Query q = new Query(a, hostYoung, asked);
        if (asked == 0) {
            answer(q);
            return;
        }
        pending.put(request, q);
        timers.startSingleTimer(new Timeout(request), Duration.ofNanos(deadline));
    }

    void onReport(NotifierReply.YoungReport r) {
        Query q = pending.get(r.request());
        if (q == null) {
            return;
        }
        if (r.young()) {
            q.young++;
        }
        if (--q.awaiting == 0) {
            pending.remove(r.request());
            timers.cancel(new Timeout(r.request()));
            answer(q);
        }
    }

    void onTimeout(Timeout t) {
        Query q = pending.remove(t.request());
        if (q != null) {
            answer(q);
        }
    }

    private static void answer(Query q) {
        q.request.replyTo().tell(new MmCommand.AgeResult(q.request.range(), q.hostYoung, q.young));
    }
}
