package io.shadowmmu.hostmm.rmap;

import java.util.Arrays;

/**
 * Frame to every (mm, virtual address) that maps it ({@code anon_vma} + {@code i_mmap} walks, flattened). Updated by
 * each mm's actor when a PTE starts or stops holding a frame, so reclaim, migration and KSM find every mapping of a
 * frame without asking anyone. Striped locks keep concurrent mms apart; no lock is held across messages.
 */
public final class ReverseMap {
    private static final int STRIPES = 256;
    private static final long[] NONE = new long[0];

    private final Object[] locks = new Object[STRIPES];
    /** Per frame: pairs (mm, va) packed as [mm0, va0, mm1, va1, ...], with a count. */
    private final long[][] entries;
    private final int[] counts;

    public ReverseMap(int frames) {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new Object();
        }
        entries = new long[frames][];
        counts = new int[frames];
    }

    public void add(int pfn, long mm, long va) {
        synchronized (locks[pfn & (STRIPES - 1)]) {
            long[] e = entries[pfn];
            int n = counts[pfn];
            if (e == null) {
                e = new long[4];
                entries[pfn] = e;
            } else if (2 * n + 2 > e.length) {
                e = Arrays.copyOf(e, e.length * 2);
                entries[pfn] = e;
            }
            e[2 * n] = mm;
            e[2 * n + 1] = va;
            counts[pfn] = n + 1;
        }
    }

    /** Removes one (mm, va) mapping of {@code pfn}; false when it was not recorded. */
    public boolean remove(int pfn, long mm, long va) {
        synchronized (locks[pfn & (STRIPES - 1)]) {
            long[] e = entries[pfn];
            int n = counts[pfn];
            for (int i = 0; i < n; i++) {
                if (e[2 * i] == mm && e[2 * i + 1] == va) {
                    e[2 * i] = e[2 * (n - 1)];
                    e[2 * i + 1] = e[2 * (n - 1) + 1];
                    counts[pfn] = n - 1;
                    return true;
                }
            }
            return false;
        }
    }

    /** The mappings of {@code pfn} at this moment, packed as [mm0, va0, mm1, va1, ...]. */
    public long[] mappings(int pfn) {
        synchronized (locks[pfn & (STRIPES - 1)]) {
            int n = counts[pfn];
            return n == 0 ? NONE : Arrays.copyOf(entries[pfn], 2 * n);
        }
    }

    public int count(int pfn) {
        synchronized (locks[pfn & (STRIPES - 1)]) {
            return counts[pfn];
        }
    }
}
