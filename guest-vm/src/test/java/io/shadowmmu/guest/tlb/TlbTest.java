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

    @Test
    void theWindowAnswersItsPagesWithTheirWordsCounted() {
        // 64 entries: 128 first-level slots, so the window is pages [0, 128) once page 0 is filled.
        Tlb tlb = new Tlb(new TlbGeometry(64, 4));
        long[][] words = new long[48][512];
        for (int p = 0; p < 48; p++) {
            tlb.insert(p, p, 1, p != 7, words[p]);
        }
        assertThat(tlb.windowBase()).isZero();
        for (int p = 0; p < 48; p++) {
            assertThat(tlb.hitFrame(p, false)).isSameAs(words[p]);
        }
        assertThat(tlb.hitFrame(3, true)).isSameAs(words[3]);
        assertThat(tlb.hitFrame(7, true)).as("read-only: a write re-walks").isNull();
        assertThat(tlb.hitFrame(50, false)).as("in the window's range, not in the TLB").isNull();
        assertThat(tlb.hitFrame(128 + 5, false)).as("outside it, sharing page 5's slot").isNull();
        assertThat(tlb.stats().hits()).isEqualTo(49);
        // Outside the window the tag compare answers, also counted.
        long[] far = new long[512];
        tlb.insert(1000, 99, 1, true, far);
        assertThat(tlb.hitFrame(1000, true)).isSameAs(far);
        assertThat(tlb.stats().hits()).isEqualTo(50);
        // An entry without cached words never answers here (its accesses take the checked path).
        tlb.insert(60, 60, 1, true, null);
        assertThat(tlb.hitFrame(60, false)).isNull();
        assertThat(tlb.hit(60, false)).isNotNegative();
    }

    @Test
    void everyWayOfDroppingAnEntryDropsItFromTheWindow() {
        Tlb tlb = new Tlb(new TlbGeometry(8, 2));
        long[][] words = new long[12][512];
        for (int v = 0; v < 4; v++) {
            tlb.insert(v, v, 1, true, words[v]);
        }
        tlb.flushRange(1, 2, 33);
        assertThat(tlb.hitFrame(1, false)).isNull();
        tlb.invalidate(tlb.probe(2));
        assertThat(tlb.hitFrame(2, false)).isNull();
        int[] generations = {1, 1, 1, 1};
        generations[3] = 2;
        tlb.revalidate(pfn -> generations[pfn]);
        assertThat(tlb.hitFrame(3, false)).as("stale frame: must take the checked path").isNull();
        assertThat(tlb.probe(3)).isNotNegative();
        assertThat(tlb.hitFrame(0, false)).isSameAs(words[0]);
        tlb.flushAll();
        assertThat(tlb.hitFrame(0, false)).isNull();
        // Eviction: set 0 has two ways; a third page evicts one, which must not answer.
        tlb.insert(0, 0, 1, true, words[0]);
        tlb.insert(4, 4, 1, true, words[4]);
        tlb.insert(8, 8, 1, true, words[8]);
        long gone = tlb.probe(0) < 0 ? 0 : 4;
        assertThat(tlb.probe(gone)).isEqualTo(-1);
        assertThat(tlb.hitFrame(gone, false)).isNull();
        assertThat(tlb.hitFrame(8, false)).isSameAs(words[8]);
        // A refill of the same page replaces the words the window hands out.
        long[] fresh = new long[512];
        tlb.insert(8, 9, 2, true, fresh);
        assertThat(tlb.hitFrame(8, true)).isSameAs(fresh);
    }

    @Test
    void windowEntriesAgeByTheirLastStampAndCountAsMoreRecentThanOthers() {
        // Fully associative, 4 entries, 8 first-level slots: pages 0-3 are in the window [0, 8), page 1001 is not.
        Tlb tlb = new Tlb(TlbGeometry.fullyAssociative(4));
        List<Long> dropped = new ArrayList<>();
        tlb.setDropListener((vpn, pfn, gen) -> dropped.add(vpn));
        tlb.insert(0, 0, 1, false, new long[512]);
        tlb.insert(1001, 1, 1, false, new long[512]);
        tlb.insert(2, 2, 1, false, new long[512]);
        tlb.insert(3, 3, 1, false, new long[512]);
        tlb.lookup(1001);  // stamped most recent of all, but outside the window
        tlb.hitFrame(0, false);  // a window hit: not stamped
        tlb.insert(4, 4, 1, false, new long[512]);
        assertThat(dropped).as("the entry outside the window goes first").containsExactly(1001L);
        // Among window entries, the oldest stamp goes (page 0's fill), window hits notwithstanding.
        tlb.hitFrame(0, false);
        tlb.insert(5, 5, 1, false, new long[512]);
        assertThat(dropped).containsExactly(1001L, 0L);
    }

    @Test
    void theWindowMovesToWhereTheFirstLevelsOtherHitsAre() {
        Tlb tlb = new Tlb(new TlbGeometry(64, 4));
        long[][] words = new long[8][512];
        for (int p = 0; p < 4; p++) {
            tlb.insert(p, p, 1, true, words[p]);
            tlb.insert(1000 + p, 10 + p, 1, true, words[4 + p]);
        }
        assertThat(tlb.windowBase()).isZero();
        for (int i = 0; i < 3000; i++) {
            assertThat(tlb.hitFrame(1000 + (i & 3), false)).isSameAs(words[4 + (i & 3)]);
        }
        assertThat(tlb.windowBase()).isEqualTo(896);  // 1000 rounded down to a multiple of 128
        // The pages left behind are still first-level hits, through the tag compare.
        for (int p = 0; p < 4; p++) {
            assertThat(tlb.hitFrame(p, true)).isSameAs(words[p]);
        }
        assertThat(tlb.stats().hits()).isEqualTo(3004);
    }

    @Test
    void aMovedWindowAdmitsOnlyWhatTheFirstLevelHoldsWithItsWritabilityAndRevalidationStillDropsIt() {
        Tlb tlb = new Tlb(new TlbGeometry(64, 4));
        long[][] words = new long[4][512];
        tlb.insert(0, 0, 1, true, words[0]);
        tlb.insert(1000, 1, 1, false, words[1]);  // read-only, outside the window [0, 128)
        tlb.insert(1001, 2, 1, true, words[2]);
        for (int i = 0; i < 3000; i++) {
            tlb.hitFrame(1000 + (i & 1), false);
        }
        assertThat(tlb.windowBase()).isEqualTo(896);
        assertThat(tlb.hitFrame(1000, false)).isSameAs(words[1]);
        assertThat(tlb.hitFrame(1000, true)).as("read-only in the window too").isNull();
        assertThat(tlb.hitFrame(1001, true)).isSameAs(words[2]);
        assertThat(tlb.hitFrame(1002, false)).as("in the window's range, never filled").isNull();
        // Check mode: page 1001's frame was freed and reused; the slice's revalidation must drop it from the window.
        int[] generations = {1, 1, 2};
        tlb.revalidate(pfn -> generations[pfn]);
        assertThat(tlb.hitFrame(1001, false)).isNull();
        assertThat(tlb.hitFrame(1000, false)).isSameAs(words[1]);
        assertThat(tlb.hitFrame(0, false)).as("left behind: the tag compare").isSameAs(words[0]);
    }
}
