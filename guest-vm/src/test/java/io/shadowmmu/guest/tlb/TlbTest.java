package io.shadowmmu.guest.tlb;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TlbTest {

    @Test
    void geometryIsValidated() {
        assertThat(new TlbGeometry(64, 4).sets()).isEqualTo(16);
        assertThat(TlbGeometry.fullyAssociative(64).sets()).isEqualTo(1);
        assertThatThrownBy(() -> new TlbGeometry(64, 5)).hasMessageContaining("multiple of ways");
        assertThatThrownBy(() -> new TlbGeometry(48, 4)).hasMessageContaining("power of two");
        assertThatThrownBy(() -> new TlbGeometry(0, 1)).hasMessageContaining("positive");
    }

    @Test
    void hitAfterFillAndCounters() {
        Tlb tlb = new Tlb(new TlbGeometry(8, 2));
        assertThat(tlb.lookup(5)).isEqualTo(-1);
        long[] words = new long[512];
        int slot = tlb.insert(5, 77, 3, true, words);
        int hit = tlb.lookup(5);
        assertThat(hit).isEqualTo(slot);
        assertThat(tlb.pfn(hit)).isEqualTo(77);
        assertThat(tlb.generation(hit)).isEqualTo(3);
        assertThat(tlb.writable(hit)).isTrue();
        assertThat(tlb.frame(hit)).isSameAs(words);
        assertThat(tlb.stats()).isEqualTo(new TlbStats(1, 1, 0, 0, 0));
    }

    @Test
    void fullyAssociativeEvictsTheLeastRecentlyUsed() {
        Tlb tlb = new Tlb(TlbGeometry.fullyAssociative(4));
        List<Long> dropped = new ArrayList<>();
        tlb.setDropListener((vpn, pfn, gen) -> dropped.add(vpn));
        for (long v = 0; v < 4; v++) {
            tlb.insert(v * 1000, (int) v, 1, false, null);
        }
        tlb.lookup(0);      // 0 becomes most recent: 1000 is now the LRU
        tlb.lookup(2000);
        tlb.insert(9000, 9, 1, false, null);
        assertThat(dropped).containsExactly(1000L);
        assertThat(tlb.probe(1000)).isEqualTo(-1);
        assertThat(tlb.probe(0)).isNotNegative();
        assertThat(tlb.stats().evictions()).isEqualTo(1);
        assertThat(tlb.size()).isEqualTo(4);
    }

    @Test
    void setAssociativityLimitsConflictingPages() {
        // 4 sets of 2 ways: pages 0, 4, 8 share set 0, so the third evicts one; page 1 is untouched.
        Tlb tlb = new Tlb(new TlbGeometry(8, 2));
        tlb.insert(1, 1, 1, false, null);
        tlb.insert(0, 0, 1, false, null);
        tlb.insert(4, 4, 1, false, null);
        tlb.insert(8, 8, 1, false, null);
        assertThat(tlb.probe(0)).isEqualTo(-1);
        assertThat(tlb.probe(4)).isNotNegative();
        assertThat(tlb.probe(8)).isNotNegative();
        assertThat(tlb.probe(1)).isNotNegative();
        assertThat(tlb.size()).isEqualTo(3);
    }

    @Test
    void refillOfTheSamePageReplacesInPlace() {
        Tlb tlb = new Tlb(new TlbGeometry(4, 4));
        int a = tlb.insert(3, 10, 1, false, null);
        int b = tlb.insert(3, 11, 2, true, null);
        assertThat(b).isEqualTo(a);
        assertThat(tlb.size()).isEqualTo(1);
        assertThat(tlb.pfn(tlb.lookup(3))).isEqualTo(11);
    }

    @Test
    void flushRangeDropsOnlyThatRangeAndFlushAllDropsEverything() {
        Tlb tlb = new Tlb(new TlbGeometry(16, 4));
        for (long v = 0; v < 16; v++) {
            tlb.insert(v, (int) v, 1, true, null);
        }
        assertThat(tlb.size()).isEqualTo(16);
        tlb.flushRange(4, 8, 33);
        assertThat(tlb.size()).isEqualTo(12);
        for (long v = 0; v < 16; v++) {
            assertThat(tlb.probe(v) >= 0).isEqualTo(v < 4 || v >= 8);
        }
        tlb.flushAll();
        assertThat(tlb.size()).isZero();
        assertThat(tlb.stats().flushes()).isEqualTo(2);
        assertThat(tlb.stats().flushedEntries()).isEqualTo(16);
    }

    @Test
    void aLargeRangeBecomesAFullFlush() {
        Tlb tlb = new Tlb(new TlbGeometry(8, 8));
        tlb.insert(1000, 1, 1, true, null);
        tlb.flushRange(0, 40, 33);  // 40 pages > 33: everything goes, including page 1000
        assertThat(tlb.size()).isZero();
        tlb.insert(5, 1, 1, true, null);
        tlb.insert(500, 2, 1, true, null);
        tlb.flushRange(0, 100, 1000);  // scanned entry by entry: only page 5 is inside
        assertThat(tlb.probe(5)).isEqualTo(-1);
        assertThat(tlb.probe(500)).isNotNegative();
    }

    @Test
    void theFirstLevelAnswersHitsCountedLikeLookups() {
        Tlb tlb = new Tlb(new TlbGeometry(8, 2));
        assertThat(tlb.hit(5, false)).isEqualTo(-1);
        int slot = tlb.insert(5, 77, 3, false, new long[512]);
        assertThat(tlb.hit(5, false)).isEqualTo(slot);
        // Read-only: a write must go to the TLB proper (and on to a fill); nothing counted by the first level.
        assertThat(tlb.hit(5, true)).isEqualTo(-1);
        // Page 21 shares page 5's first-level slot (16 slots for 8 entries), but not its tag.
        assertThat(tlb.hit(21, false)).isEqualTo(-1);
        assertThat(tlb.stats()).isEqualTo(new TlbStats(1, 0, 0, 0, 0));
        tlb.insert(5, 78, 4, true, null);
        assertThat(tlb.hit(5, true)).isEqualTo(slot);
        assertThat(tlb.pfn(slot)).isEqualTo(78);
        assertThat(tlb.stats().hits()).isEqualTo(2);
    }

    @Test
    void everyWayOfDroppingAnEntryDropsItFromTheFirstLevel() {
        Tlb tlb = new Tlb(new TlbGeometry(8, 2));
        for (long v = 0; v < 4; v++) {
            tlb.insert(v, (int) v, 1, true, null);
        }
        tlb.flushRange(1, 2, 33);
        assertThat(tlb.hit(1, false)).isEqualTo(-1);
        tlb.invalidate(tlb.probe(2));
        assertThat(tlb.hit(2, false)).isEqualTo(-1);
        tlb.flushAll();
        assertThat(tlb.hit(0, false)).isEqualTo(-1);
        assertThat(tlb.hit(3, false)).isEqualTo(-1);
        // Eviction: set 0 has two ways; a third page evicts the least recently used, which must not hit.
        tlb.insert(0, 0, 1, true, null);
        tlb.insert(4, 4, 1, true, null);
        tlb.hit(0, false);
        tlb.insert(8, 8, 1, true, null);
        assertThat(tlb.hit(4, false)).isEqualTo(-1);
        assertThat(tlb.probe(4)).isEqualTo(-1);
        assertThat(tlb.hit(0, false)).isNotNegative();
        assertThat(tlb.hit(8, false)).isNotNegative();
    }

    @Test
    void firstLevelHitsKeepTrueLruOrder() {
        // As fullyAssociativeEvictsTheLeastRecentlyUsed, with the touches answered by the first level.
        Tlb tlb = new Tlb(TlbGeometry.fullyAssociative(4));
        List<Long> dropped = new ArrayList<>();
        tlb.setDropListener((vpn, pfn, gen) -> dropped.add(vpn));
        // Pages 0, 1001, 2002, 3003 take distinct first-level slots (8 of them for 4 entries).
        for (long v = 0; v < 4; v++) {
            tlb.insert(v * 1001, (int) v, 1, false, null);
        }
        assertThat(tlb.hit(0, false)).isNotNegative();
        assertThat(tlb.hit(2002, false)).isNotNegative();
        tlb.insert(9000, 9, 1, false, null);
        assertThat(dropped).containsExactly(1001L);
    }

    @Test
    void revalidationDropsOnlyEntriesWhoseFrameChangedGeneration() {
        Tlb tlb = new Tlb(new TlbGeometry(16, 4));
        int[] generations = {1, 1, 1};
        for (int v = 0; v < 3; v++) {
            tlb.insert(v, v, 1, true, null);
        }
        generations[1] = 2;  // frame 1 freed and reused
        tlb.revalidate(pfn -> generations[pfn]);
        assertThat(tlb.hit(0, false)).isNotNegative();
        assertThat(tlb.hit(2, false)).isNotNegative();
        assertThat(tlb.hit(1, false)).as("must take the checked path").isEqualTo(-1);
        // Still in the TLB proper, where the caller's check sees the stale generation.
        int slot = tlb.lookup(1);
        assertThat(tlb.generation(slot)).isNotEqualTo(generations[tlb.pfn(slot)]);
    }

    @Test
    void geometryIsCappedAtWhatTheFirstLevelCanName() {
        assertThat(new TlbGeometry(TlbGeometry.MAX_ENTRIES, 4).entries()).isEqualTo(65536);
        assertThatThrownBy(() -> new TlbGeometry(2 * TlbGeometry.MAX_ENTRIES, 4)).hasMessageContaining("at most");
    }
}
