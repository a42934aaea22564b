package io.shadowmmu.cluster.exporter;

import akka.actor.typed.ActorRef;
import io.shadowmmu.cluster.protocol.Span;
import io.shadowmmu.hostmm.notifier.NotifierReply;

import java.util.ArrayList;
import java.util.List;

/**
 * The invalidations one importer owes its exporting mm: at most one message in flight, everything arriving meanwhile
 * queued and sent together once it is acknowledged ("queue, and interrupt once"). Plain state of one actor.
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
    private Message inFlight;
    private long sent;

    /** Queues a batch; returns the message to send now, or null while one is in flight. */
    Message add(Owed owed, List<Span> spans) {
        queued.add(owed);
        queuedSpans.addAll(spans);
        return next();
    }

    /** The queue as one message, if none is in flight and something waits; else null. */
    Message next() {
        if (inFlight != null || queued.isEmpty()) {
            return null;
        }
        sent++;
        inFlight = new Message(sent, List.copyOf(queued), List.copyOf(queuedSpans), System.nanoTime());
        queued.clear();
        queuedSpans.clear();
        return inFlight;
    }

    /** The importer acked message {@code id}: the message it completes, or null for a duplicate or a stranger. */
    Message acked(long id) {
        if (inFlight == null || inFlight.id() != id) {
            return null;
        }
        Message done = inFlight;
        inFlight = null;
        return done;
    }

    /** Messages sent so far: what the importer may hold was handed out before message {@code sent() + 1}. */
    long sent() {
        return sent;
    }
}
