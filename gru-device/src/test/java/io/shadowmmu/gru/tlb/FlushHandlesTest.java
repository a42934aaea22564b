package io.shadowmmu.gru.tlb;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FlushHandlesTest {
    private final List<String> issued = new ArrayList<>();
    private final List<Integer> on = new ArrayList<>();
    private final FlushHandles<String> handles = new FlushHandles<>(2, (h, job) -> {
        issued.add(job);
        on.add(h);
    });

    @Test
    void aFlushBeyondThePoolWaitsForAHandleToCompleteAndIsIssuedOnIt() {
        assertThat(handles.submit("a")).isTrue();
        assertThat(handles.submit("b")).isTrue();
        assertThat(handles.busy()).isEqualTo(2);
        assertThat(handles.submit("c")).isFalse();
        assertThat(handles.submit("d")).isFalse();
        assertThat(issued).containsExactly("a", "b");
        assertThat(handles.waits()).isEqualTo(2);
        assertThat(handles.waiting()).isEqualTo(2);

        handles.completed(on.get(1)); // b's handle goes to the oldest waiter
        assertThat(issued).containsExactly("a", "b", "c");
        assertThat(on.get(2)).isEqualTo(on.get(1));
        assertThat(handles.busy()).isEqualTo(2);
        handles.completed(on.get(0));
        assertThat(issued).containsExactly("a", "b", "c", "d");
        handles.completed(on.get(2));
        handles.completed(on.get(3));
        assertThat(handles.busy()).isZero();
        assertThat(handles.waiting()).isZero();
        assertThat(handles.mostWaiting()).isEqualTo(2);
        assertThat(handles.issued()).isEqualTo(4);

        assertThat(handles.submit("e")).isTrue(); // free again: no wait
        assertThat(handles.waits()).isEqualTo(2);
    }

    @Test
    void aHandleThatIsNotBusyCannotComplete() {
        assertThatThrownBy(() -> handles.completed(0)).isInstanceOf(IllegalStateException.class);
        handles.submit("a");
        handles.completed(on.get(0));
        assertThatThrownBy(() -> handles.completed(on.get(0))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> new FlushHandles<String>(0, (h, j) -> { })).isInstanceOf(
                IllegalArgumentException.class);
    }
}
