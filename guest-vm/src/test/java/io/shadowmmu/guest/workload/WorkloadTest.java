package io.shadowmmu.guest.workload;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

class WorkloadTest {
    private static final Region REGION = new Region(0x40_0000L, 256 * Region.PAGE_SIZE);

    @ParameterizedTest
    @EnumSource(WorkloadKind.class)
    void sameSeedGivesSameStreamAndAnotherSeedDoesNot(WorkloadKind kind) {
        WorkloadSpec spec = WorkloadSpec.of(kind, 50_000, 0.3);
        long[] a = drain(spec.create(REGION, 7));
        long[] b = drain(spec.create(REGION, 7));
        long[] c = drain(spec.create(REGION, 8));
        assertThat(a).hasSize(50_000 * 2);
        assertThat(a).isEqualTo(b);
        if (kind != WorkloadKind.SEQUENTIAL) {
            assertThat(Arrays.equals(a, c)).isFalse();
        }
    }

    @ParameterizedTest
    @EnumSource(WorkloadKind.class)
    void staysInsideTheRegionOnAlignedWords(WorkloadKind kind) {
        long[] s = drain(WorkloadSpec.of(kind, 20_000, 0.5).create(REGION, 1));
        for (int i = 0; i < s.length; i += 2) {
            assertThat(s[i]).isBetween(REGION.base(), REGION.end() - 8);
            assertThat(s[i] % 8).isZero();
        }
    }

    @Test
    void writeFractionIsHonoured() {
        long[] s = drain(WorkloadSpec.of(WorkloadKind.UNIFORM, 100_000, 0.25).create(REGION, 3));
        long writes = 0;
        for (int i = 1; i < s.length; i += 2) {
            writes += s[i] == AccessBatch.STORE ? 1 : 0;
        }
        assertThat(writes / 100_000.0).isBetween(0.24, 0.26);
        long[] ro = drain(WorkloadSpec.of(WorkloadKind.UNIFORM, 10_000, 0.0).create(REGION, 3));
        for (int i = 1; i < ro.length; i += 2) {
            assertThat(ro[i]).isEqualTo(AccessBatch.LOAD);
        }
    }

    @Test
    void sequentialScanStridesAndWraps() {
        Region small = new Region(0x1000, 2 * Region.PAGE_SIZE);
        long[] s = drain(new SequentialScan(small, 130, 0, 64, 1));
        assertThat(s[0]).isEqualTo(0x1000);
        assertThat(s[2]).isEqualTo(0x1040);
        assertThat(s[2 * 127]).isEqualTo(0x1000 + 127 * 64);
        assertThat(s[2 * 128]).isEqualTo(0x1000);
    }

    @Test
    void zipfianConcentratesOnFewPages() {
        long[] s = drain(WorkloadSpec.of(WorkloadKind.ZIPFIAN, 100_000, 0).create(REGION, 5));
        int[] perPage = new int[(int) REGION.pages()];
        for (int i = 0; i < s.length; i += 2) {
            perPage[(int) ((s[i] - REGION.base()) / Region.PAGE_SIZE)]++;
        }
        Arrays.sort(perPage);
        long top10 = 0;
        for (int i = perPage.length - 10; i < perPage.length; i++) {
            top10 += perPage[i];
        }
        // Uniform would give 10/256 = 4%; theta 0.99 over 256 pages puts well over a third on the top ten.
        assertThat(top10 / 100_000.0).isGreaterThan(0.35);
    }

    @Test
    void phasedWorkingSetMovesBetweenPhases() {
        PhasedWorkingSet w = new PhasedWorkingSet(REGION, 2_000, 0, 8, 1_000, 9);
        long[] s = drain(w);
        for (int i = 0; i < 2_000; i++) {
            long page = (s[2 * i] - REGION.base()) / Region.PAGE_SIZE;
            if (i < 1_000) {
                assertThat(page).isBetween(0L, 7L);
            } else {
                assertThat(page).isBetween(8L, 15L);
            }
        }
    }

    @Test
    void fillStopsAtCapacityAndResumes() {
        Workload w = WorkloadSpec.of(WorkloadKind.MIXED, 2_500, 0.5).create(REGION, 11);
        AccessBatch batch = new AccessBatch(1_000);
        assertThat(w.fill(batch)).isTrue();
        assertThat(batch.size()).isEqualTo(1_000);
        assertThat(w.remaining()).isEqualTo(1_500);
        batch.clear();
        assertThat(w.fill(batch)).isTrue();
        batch.clear();
        assertThat(w.fill(batch)).isFalse();
        assertThat(batch.size()).isEqualTo(500);
    }

    /** (address, kind) pairs of the whole stream, through a small batch to exercise refills. */
    static long[] drain(Workload w) {
        AccessBatch batch = new AccessBatch(777);
        long[] out = new long[1024];
        int n = 0;
        boolean more = true;
        while (more) {
            batch.clear();
            more = w.fill(batch);
            for (int i = 0; i < batch.size(); i++) {
                if (n + 2 > out.length) {
                    out = Arrays.copyOf(out, out.length * 2);
                }
                out[n++] = batch.address(i);
                out[n++] = batch.kind(i);
            }
        }
        return Arrays.copyOf(out, n);
    }
}
