package io.shadowmmu.gru.tlb;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GruTlbTest {
    private final List<Long> removed = new ArrayList<>();
    private final GruTlb.Removal removal = (asid, vpn, pfn, generation, dirty) -> removed.add(vpn);

    @Test
    void entriesAreTaggedByAsid() {
        GruTlb tlb = new GruTlb(16, 4);
        tlb.install(1, 100, 7, 1, true, null, removal);
        assertThat(tlb.lookup(1, 100)).isNotNegative();
        assertThat(tlb.lookup(2, 100)).isNegative();
        assertThat(tlb.pfn(tlb.lookup(1, 100))).isEqualTo(7);
    }

    @Test
    void aFullSetEvictsItsLeastRecentlyUsedWay() {
        GruTlb tlb = new GruTlb(2, 2); // one set of two ways
        tlb.install(1, 10, 1, 1, false, null, removal);
        tlb.install(1, 11, 2, 1, false, null, removal);
        tlb.lookup(1, 10); // 11 is now the least recently used
        tlb.install(1, 12, 3, 1, false, null, removal);
        assertThat(removed).containsExactly(11L);
        assertThat(tlb.lookup(1, 10)).isNotNegative();
        assertThat(tlb.lookup(1, 11)).isNegative();
        assertThat(tlb.size()).isEqualTo(2);
    }

    @Test
    void rangeAndAsidFlushesTouchOnlyTheirAsid() {
        GruTlb tlb = new GruTlb(64, 4);
        for (long v = 0; v < 8; v++) {
            tlb.install(1, v, (int) v, 1, true, null, removal);
            tlb.install(2, v, (int) v, 1, true, null, removal);
        }
        assertThat(tlb.flushRange(1, 2, 5, removal)).isEqualTo(3);
        assertThat(tlb.countAsid(1)).isEqualTo(5);
        assertThat(tlb.countAsid(2)).isEqualTo(8);
        // A range wider than the number of sets is flushed by a scan; same result.
        assertThat(tlb.flushRange(2, 0, 1000, removal)).isEqualTo(8);
        assertThat(tlb.flushAsid(1, removal)).isEqualTo(5);
        assertThat(tlb.size()).isZero();
    }

    @Test
    void badGeometryIsRejected() {
        assertThatThrownBy(() -> new GruTlb(10, 4)).hasMessageContaining("10 entries");
    }
}
