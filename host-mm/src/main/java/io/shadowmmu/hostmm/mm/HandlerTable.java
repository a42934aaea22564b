package io.shadowmmu.hostmm.mm;

import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * An actor's typed message handlers, found by the message's exact class in one hash lookup. Akka's built receive
 * tries its cases one by one, which made the dispatch a measurable share of every mm message (issue 16); message
 * types here are records or other final classes, so the exact class is the only one that can match.
 *
 * @param <T> the actor's message type
 */
public final class HandlerTable<T> {
    private final Map<Class<?>, Consumer<T>> byClass = new HashMap<>();

    /** Handles every message of class {@code type} (a final class: a subclass would not be found). */
    public <M extends T> HandlerTable<T> on(Class<M> type, Consumer<M> handler) {
        if (!Modifier.isFinal(type.getModifiers())) {
            throw new IllegalArgumentException(type.getName() + " is not final: its subclasses would not be found");
        }
        if (byClass.putIfAbsent(type, m -> handler.accept(type.cast(m))) != null) {
            throw new IllegalArgumentException("two handlers for " + type.getName());
        }
        return this;
    }

    /** Runs {@code msg}'s handler; false when no handler takes its class. */
    public boolean handle(T msg) {
        Consumer<T> handler = byClass.get(msg.getClass());
        if (handler == null) {
            return false;
        }
        handler.accept(msg);
        return true;
    }
}
