package io.shadowmmu.cluster.exporter;

import io.shadowmmu.cluster.protocol.Span;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** One message in flight per importer; what arrives meanwhile leaves as one message once the first is acked. */
class InvalidationQueueTest {

    private static InvalidationQueue.Owed owed(long batch) {
        return new InvalidationQueue.Owed(batch, null, false);
    }

    @Test
    void coalescesWhileOneIsInFlight() {
        InvalidationQueue q = new InvalidationQueue();
        InvalidationQueue.Message first = q.add(owed(1), List.of(new Span(0, 1)));
        assertThat(first).isNotNull();
        assertThat(first.id()).isEqualTo(1);

        assertThat(q.add(owed(2), List.of(new Span(4, 5)))).isNull();
        assertThat(q.add(owed(3), List.of(new Span(8, 9)))).isNull();
        assertThat(q.next()).isNull();

        assertThat(q.acked(first.id())).isSameAs(first);
        InvalidationQueue.Message second = q.next();
        assertThat(second.id()).isEqualTo(2);
        assertThat(second.owed()).extracting(InvalidationQueue.Owed::batch).containsExactly(2L, 3L);
        assertThat(second.spans()).containsExactly(new Span(4, 5), new Span(8, 9));
        assertThat(q.sent()).isEqualTo(2);
    }

    @Test
    void aDuplicateOrStaleAckCompletesNothing() {
        InvalidationQueue q = new InvalidationQueue();
        InvalidationQueue.Message first = q.add(owed(1), List.of(new Span(0, 1)));
        assertThat(q.acked(first.id() + 1)).isNull();
        assertThat(q.acked(first.id())).isSameAs(first);
        assertThat(q.acked(first.id())).isNull();
        assertThat(q.next()).isNull();
    }

    @Test
    void inFlightCountsWhatWasSentAndNotAcked() {
        InvalidationQueue q = new InvalidationQueue();
        assertThat(q.inFlight()).isZero();
        InvalidationQueue.Message first = q.add(owed(1), List.of(new Span(0, 1)));
        assertThat(q.inFlight()).isEqualTo(1);
        q.add(owed(2), List.of(new Span(4, 5)));
        assertThat(q.inFlight()).isEqualTo(1);
        q.acked(first.id());
        assertThat(q.inFlight()).isZero();
        assertThat(q.next()).isNotNull();
        assertThat(q.inFlight()).isEqualTo(1);
    }

    @Test
    void aWiderWindowLetsThatManyMessagesTravelAtOnce() {
        InvalidationQueue q = new InvalidationQueue(2);
        InvalidationQueue.Message first = q.add(owed(1), List.of(new Span(0, 1)));
        InvalidationQueue.Message second = q.add(owed(2), List.of(new Span(4, 5)));
        assertThat(second).isNotNull();
        assertThat(q.inFlight()).isEqualTo(2);
        assertThat(q.add(owed(3), List.of(new Span(8, 9)))).isNull();
        // Acks may name any message on the wire; the one acked leaves the window and the queue follows.
        assertThat(q.acked(second.id())).isSameAs(second);
        assertThat(q.inFlight()).isEqualTo(1);
        InvalidationQueue.Message third = q.next();
        assertThat(third.owed()).extracting(InvalidationQueue.Owed::batch).containsExactly(3L);
        assertThat(q.inFlight()).isEqualTo(2);
        assertThat(q.acked(first.id())).isSameAs(first);
        assertThat(q.acked(first.id())).isNull();
    }
}
