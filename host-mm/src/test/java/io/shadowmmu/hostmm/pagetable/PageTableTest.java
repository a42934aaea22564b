package io.shadowmmu.hostmm.pagetable;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PageTableTest {
    @Test
    void entriesAreStoredPerPageAcrossAllFourLevels() {
        PageTable pt = new PageTable();
        long[] vas = {0, 0x1000, 0x20_0000, 0x4000_0000L, 0x80_0000_0000L, PageTable.VA_LIMIT - 4096};
        for (int i = 0; i < vas.length; i++) {
            pt.set(vas[i], Pte.make(i + 1, true));
        }
        for (int i = 0; i < vas.length; i++) {
            assertThat(Pte.pfn(pt.get(vas[i]))).isEqualTo(i + 1);
            assertThat(pt.get(vas[i] + 0x123)).as("same page").isEqualTo(pt.get(vas[i]));
        }
        assertThat(pt.get(0x2000)).isEqualTo(Pte.NONE);
        assertThatThrownBy(() -> pt.set(PageTable.VA_LIMIT, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void getAndClearKeepsADirtyBitSetByHardware() {
        PageTable pt = new PageTable();
        long pte = Pte.make(9, true);
        pt.set(0x5000, pte);
        assertThat(pt.setHardwareBits(0x5000, pte, Pte.ACCESSED | Pte.DIRTY)).isTrue();
        long last = pt.getAndClear(0x5000);
        assertThat(Pte.isDirty(last)).isTrue();
        assertThat(pt.setHardwareBits(0x5000, pte, Pte.DIRTY)).as("walker must see the entry changed").isFalse();
    }

    @Test
    void forEachEntrySkipsAbsentTablesAndVisitsInOrder() {
        PageTable pt = new PageTable();
        pt.set(0x1000, Pte.make(1, false));
        pt.set(0x4000_0000L, Pte.make(2, false));
        pt.set(0x4000_1000L, Pte.make(3, false));
        List<Long> seen = new ArrayList<>();
        pt.forEachEntry(0, 0x8000_0000L, (va, e) -> seen.add(va));
        assertThat(seen).containsExactly(0x1000L, 0x4000_0000L, 0x4000_1000L);
        assertThat(pt.leafTables()).isEqualTo(2);
    }

    @Test
    void accessedBitTestAndClear() {
        PageTable pt = new PageTable();
        pt.set(0, Pte.make(1, true) | Pte.ACCESSED);
        assertThat(pt.testAndClearAccessed(0)).isTrue();
        assertThat(pt.testAndClearAccessed(0)).isFalse();
    }

    @Test
    void pteEncodingRoundTrips() {
        long pte = Pte.make(0xABCDE, true) | Pte.COW | Pte.DIRTY;
        assertThat(Pte.pfn(pte)).isEqualTo(0xABCDE);
        assertThat(Pte.isPresent(pte) && Pte.isWritable(pte) && Pte.isCow(pte) && Pte.isDirty(pte)).isTrue();
        assertThat(Pte.swapSlot(Pte.swapEntry(77))).isEqualTo(77);
        assertThat(Pte.isPresent(Pte.swapEntry(77))).isFalse();
        assertThat(Pte.describe(pte)).contains("pfn=703710", "W", "COW");
    }

    @Test
    void aWalkOfTheWhole48BitSpaceFindsEntriesAtBothEnds() {
        PageTable pt = new PageTable();
        pt.set(0x1000, Pte.make(1, false));
        pt.set(PageTable.VA_LIMIT - 4096, Pte.make(2, false));
        List<Long> seen = new ArrayList<>();
        pt.forEachEntry(0, PageTable.VA_LIMIT, (va, e) -> seen.add(va));
        assertThat(seen).containsExactly(0x1000L, PageTable.VA_LIMIT - 4096);
    }
}
