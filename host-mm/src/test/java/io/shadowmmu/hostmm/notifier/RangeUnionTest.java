package io.shadowmmu.hostmm.notifier;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** The merges a coalesced batch's ranges go through (D88): the union and the in-place insert agree with a page set. */
class RangeUnionTest {
    private static final long PAGE = Range.PAGE_SIZE;

    @Test
    void overlappingTouchingAndContainedRangesMerge() {
        List<Range> u = Range.union(List.of(new Range(0x5000, 0x6000), new Range(0x1000, 0x3000)),
                List.of(new Range(0x3000, 0x4000), new Range(0x1000, 0x2000), new Range(0x8000, 0x9000)));
        assertThat(u).containsExactly(new Range(0x1000, 0x4000), new Range(0x5000, 0x6000),
                new Range(0x8000, 0x9000));
        List<Range> sorted = new ArrayList<>(u);
        Range.insert(sorted, new Range(0x4000, 0x8000));
        assertThat(sorted).as("a range that fills the gaps joins its neighbours").containsExactly(
                new Range(0x1000, 0x9000));
    }

    @Test
    void insertingOneByOneGivesTheUnionOfThePages() {
        SplittableRandom random = new SplittableRandom(16);
        for (int round = 0; round < 500; round++) {
            List<Range> sorted = new ArrayList<>();
            List<Range> all = new ArrayList<>();
            TreeSet<Long> pages = new TreeSet<>();
            int n = 1 + random.nextInt(40);
            for (int i = 0; i < n; i++) {
                long start = random.nextInt(64) * PAGE;
                Range r = new Range(start, start + (1 + random.nextInt(6)) * PAGE);
                Range.insert(sorted, r);
                all.add(r);
                for (long va = r.start(); va < r.end(); va += PAGE) {
                    pages.add(va);
                }
            }
            assertThat(sorted).isEqualTo(Range.union(all, List.of()));
            assertThat(Range.totalPages(sorted)).isEqualTo(pages.size());
            for (int i = 1; i < sorted.size(); i++) {
                assertThat(sorted.get(i).start()).as("disjoint, not touching").isGreaterThan(sorted.get(i - 1).end());
            }
            for (long va : pages) {
                assertThat(Range.anyContains(sorted, va)).isTrue();
            }
        }
    }
}
