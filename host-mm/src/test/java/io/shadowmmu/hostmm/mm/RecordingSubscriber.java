package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test secondary that acks at once, counts the events it was told about, reports {@code hot} as young to aging,
 * and reports {@code dirty} as written through its own mapping in every ack that covers it.
 */
final class RecordingSubscriber {
    final Map<InvalidationEvent, AtomicLong> starts = new ConcurrentHashMap<>();
    final AtomicLong youngQueries = new AtomicLong();
    private final Range hot;
    private final Range dirty;

    RecordingSubscriber(Range hot, Range dirty) {
        this.hot = hot;
        this.dirty = dirty;
    }

    long starts(InvalidationEvent e) {
        AtomicLong n = starts.get(e);
        return n == null ? 0 : n.get();
    }

    Behavior<MmuNotification> behavior(ActorRef<MmCommand> mm) {
        return Behaviors.setup(ctx -> {
            mm.tell(new MmCommand.Register(ctx.getSelf(), Interest.WHOLE_MM, 0, "recording", null,
                    ctx.getSystem().ignoreRef()));
            return Behaviors.receive(MmuNotification.class)
                    .onMessage(MmuNotification.InvalidateStart.class, s -> {
                        starts.computeIfAbsent(s.event(), e -> new AtomicLong()).incrementAndGet();
                        List<Range> reported = List.of();
                        if (dirty != null) {
                            for (Range r : s.ranges()) {
                                Range i = r.intersect(dirty);
                                if (i != null) {
                                    reported = List.of(i);
                                }
                            }
                        }
                        s.replyTo().tell(new NotifierReply.Ack(s.subscription(), s.batch(), reported));
                        return Behaviors.same();
                    })
                    .onMessage(MmuNotification.ClearYoung.class, q -> {
                        youngQueries.incrementAndGet();
                        q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(),
                                hot != null && hot.overlaps(q.range())));
                        return Behaviors.same();
                    })
                    .onMessage(MmuNotification.Release.class, r -> {
                        r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
                        return Behaviors.same();
                    })
                    .onAnyMessage(m -> Behaviors.same())
                    .build();
        });
    }
}
