package io.shadowmmu.gru.tlb;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeviceTlbTest {

    @Test
    void entriesAreTaggedByAsid() {
        DeviceTlb tlb = new DeviceTlb(16, 4);
        int slot = tlb.install(1, 100, 7, 3, true, null);
        assertThat(tlb.lookup(1, 100)).isEqualTo(slot);
        assertThat(tlb.lookup(2, 100)).isEqualTo(-1);
        assertThat(tlb.pfn(slot)).isEqualTo(7);
        assertThat(tlb.generation(slot)).isEqualTo(3);
        assertThat(tlb.writable(slot)).isTrue();
    }

    @Test
    void aFullSetEvictsItsLeastRecentlyUsedEntry() {
        DeviceTlb tlb = new DeviceTlb(2, 2); // one set of two ways
        List<Long> evicted = new ArrayList<>();
        tlb.install(1, 10, 1, 1, false, (a, v, p, g, d) -> evicted.add(v));
        tlb.install(1, 11, 2, 1, false, (a, v, p, g, d) -> evicted.add(v));
        tlb.lookup(1, 10); // 11 is now the least recently used
        tlb.install(1, 12, 3, 1, false, (a, v, p, g, d) -> evicted.add(v));
        assertThat(evicted).containsExactly(11L);
        assertThat(tlb.lookup(1, 10)).isNotNegative();
        assertThat(tlb.lookup(1, 11)).isEqualTo(-1);
    }

    @Test
    void rangeFlushTakesOnlyThatAsidsPagesInRange() {
        DeviceTlb tlb = new DeviceTlb(64, 4);
        for (long v = 0; v < 10; v++) {
            tlb.install(1, v, (int) v, 1, false, null);
            tlb.install(2, v, (int) v, 1, false, null);
        }
        List<Long> removed = new ArrayList<>();
        int n = tlb.flushRange(1, 3, 6, (a, v, p, g, d) -> removed.add(v));
        assertThat(n).isEqualTo(3);
        assertThat(removed).containsExactlyInAnyOrder(3L, 4L, 5L);
        assertThat(tlb.count(1)).isEqualTo(7);
        assertThat(tlb.count(2)).isEqualTo(10);
        assertThat(tlb.flushAsid(2, null)).isEqualTo(10);
        assertThat(tlb.count(2)).isZero();
    }

    @Test
    void aDirtyEntryIsReportedDirtyWhenFlushed() {
        DeviceTlb tlb = new DeviceTlb(8, 2);
        int slot = tlb.install(1, 5, 9, 1, true, null);
        tlb.markDirty(slot);
        tlb.install(1, 6, 9, 1, true, null);
        List<Long> dirty = new ArrayList<>();
        tlb.flushAsid(1, (a, v, p, g, d) -> {
            if (d) {
                dirty.add(v);
            }
        });
        assertThat(dirty).containsExactly(5L);
    }

    @Test
    void geometryMustBeWaysTimesAPowerOfTwo() {
        assertThatThrownBy(() -> new DeviceTlb(24, 8)).hasMessageContaining("power of two");
    }
}
