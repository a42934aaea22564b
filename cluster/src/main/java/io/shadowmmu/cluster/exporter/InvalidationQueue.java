package io.shadowmmu.cluster.exporter;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.protocol.Span;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The invalidations one importer owes its exporting mm: at most {@code window} messages in flight (1 by default),
 * everything arriving meanwhile queued and sent together once one is acknowledged ("queue, and interrupt once").
 * Plain state of one actor. {@link #inFlight()} is counted from what was sent and acknowledged, not assumed.
 */
final class InvalidationQueue {

    /** A local batch waiting for the importer's ack; {@code release} when it is the mm's exit. */
    record Owed(long batch, ActorRef<NotifierReply> replyTo, boolean release) {
    }

    /** One Invalidate message: the batches it carries and the union of their ranges. */
    record Message(long id, List<Owed> owed, List<Span> spans, long sentNanos) {
    }

    private final List<Owed> queued = new ArrayList<>();
    private final List<Span> queuedSpans = new ArrayList<>();
    private final ArrayDeque<Message> inFlight = new ArrayDeque<>();
    private final int window;
    private long sent;

    InvalidationQueue() {
        this(1);
    }

    InvalidationQueue(int window) {
        if (window < 1) {
            throw new IllegalArgumentException("window = " + window + ": at least one message must be allowed");
        }
        this.window = window;
    }

    /** Queues a batch; returns the message to send now, or null while one is in flight. */
    Message add(Owed owed, List<Span> spans) {
        queued.add(owed);
        queuedSpans.addAll(spans);
        return next();
    }

    /** The queue as one message, if the window has room and something waits; else null. */
    Message next() {
        if (inFlight.size() >= window || queued.isEmpty()) {
            return null;
        }
        sent++;
        Message m = new Message(sent, List.copyOf(queued), List.copyOf(queuedSpans), System.nanoTime());
        inFlight.add(m);
        queued.clear();
        queuedSpans.clear();
        return m;
    }

    /** The importer acked message {@code id}: the message it completes, or null for a duplicate or a stranger. */
    Message acked(long id) {
        Iterator<Message> it = inFlight.iterator();
        while (it.hasNext()) {
            Message m = it.next();
            if (m.id() == id) {
                it.remove();
                return m;
            }
        }
        return null;
    }

    /** Messages sent and not yet acknowledged. */
    int inFlight() {
        return inFlight.size();
    }

    /** Messages sent so far: what the importer may hold was handed out before message {@code sent() + 1}. */
    long sent() {
        return sent;
    }
}
