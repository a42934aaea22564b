package io.shadowmmu.hostmm.notifier;

import io.shadowmmu.hostmm.notifier.Range;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SortedRangesTest {
    @Test
    void unsortedOverlappingAndTouchingRangesMergeAndAnswerMembership() {
        SortedRanges r = SortedRanges.of(List.of(new Range(0x9000, 0xa000), new Range(0x1000, 0x3000),
                new Range(0x2000, 0x4000), new Range(0x4000, 0x5000)));
        assertThat(r.contains(0x0fff)).isFalse();
        assertThat(r.contains(0x1000)).isTrue();
        assertThat(r.contains(0x3800)).as("inside the overlap").isTrue();
        assertThat(r.contains(0x4fff)).as("inside the touching run").isTrue();
        assertThat(r.contains(0x5000)).as("end is exclusive").isFalse();
        assertThat(r.contains(0x8fff)).isFalse();
        assertThat(r.contains(0x9000)).isTrue();
        assertThat(r.contains(0xa000)).isFalse();
    }

    @Test
    void aRangeInsideAnEarlierOneDoesNotShortenIt() {
        SortedRanges r = SortedRanges.of(List.of(new Range(0x1000, 0x8000), new Range(0x2000, 0x3000)));
        assertThat(r.contains(0x7000)).isTrue();
        assertThat(SortedRanges.of(List.of()).contains(0)).isFalse();
    }
}
