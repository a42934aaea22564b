package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import io.shadowmmu.hostmm.mm.MmCommand;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The secondary MMUs registered on one mm ({@code mm->notifier_subscriptions}). Each subscriber actor is watched
 * once, however many subscriptions it holds, so that its death settles every one of them.
 */
final class Subscriptions {
    /** A watched subscriber actor stopped. */
    record SubscriberDied(ActorRef<MmuNotification> ref) implements MmCommand.Internal {
    }

    private final ActorContext<MmCommand> context;
    private final Map<Long, Subscription> byId = new LinkedHashMap<>();
    private final Map<ActorRef<MmuNotification>, List<Long>> byRef = new HashMap<>();
    private long nextId = 1;

    Subscriptions(ActorContext<MmCommand> context) {
        this.context = context;
    }

    Subscription add(ActorRef<MmuNotification> ref, Interest interest, long agent, String name, Duration deadline) {
        Subscription s = new Subscription(nextId++, ref, interest, agent, name, deadline.toNanos());
        byId.put(s.id, s);
        List<Long> ids = byRef.get(ref);
        if (ids == null) {
            ids = new ArrayList<>(1);
            byRef.put(ref, ids);
            context.watchWith(ref, new SubscriberDied(ref));
        }
        ids.add(s.id);
        return s;
    }

    void remove(Subscription s) {
        byId.remove(s.id);
        List<Long> ids = byRef.get(s.ref);
        if (ids != null) {
            ids.remove(s.id);
            if (ids.isEmpty()) {
                byRef.remove(s.ref);
                context.unwatch(s.ref);
            }
        }
    }

    Subscription get(long id) {
        return byId.get(id);
    }

    boolean contains(long id) {
        return byId.containsKey(id);
    }

    /** The live subscriptions of one actor, a copy safe to iterate while removing. */
    List<Subscription> of(ActorRef<MmuNotification> ref) {
        List<Long> ids = byRef.get(ref);
        if (ids == null) {
            return List.of();
        }
        List<Subscription> out = new ArrayList<>(ids.size());
        for (Long id : ids) {
            out.add(byId.get(id));
        }
        return out;
    }

    Collection<Subscription> all() {
        return byId.values();
    }

    boolean isEmpty() {
        return byId.isEmpty();
    }

    int size() {
        return byId.size();
    }
}
