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
}
