package io.shadowmmu.guest.vcpu;

import java.util.Arrays;

/**
 * What one guest process wrote, word by word, to check that every read returns it (invariant I1). Pages are
 * found through an open-addressing table keyed by virtual page number, so a check allocates nothing after a page's
 * first write. A word never written since its page was (re)mapped is unknown and not checked: a freshly mapped
 * guest page may hold anything the guest did not zero.
 *
 * <p>Owned by the vCPU that runs the process; not thread-safe.
 */
public final class GoldenCopy {
    private static final int WORDS = 512;
    private static final long EMPTY = -1;

    private long[] keys;
    private int[] slots;
    private long[][] values;
    private long[][] known;
    private int pages;
    private int mask;

    // Last page found: consecutive accesses mostly stay on one page.
    private long lastVpn = EMPTY;
    private int lastSlot = -1;

    public GoldenCopy() {
        keys = new long[64];
        Arrays.fill(keys, EMPTY);
        slots = new int[64];
        mask = 63;
        values = new long[16][];
        known = new long[16][];
    }

    /** Records a write of {@code value} to the word at {@code va}. */
    public void wrote(long va, long value) {
        int s = slotFor(va >>> 12, true);
        int w = (int) ((va >>> 3) & (WORDS - 1));
        values[s][w] = value;
        known[s][w >>> 6] |= 1L << w;
    }

    /** True if the word at {@code va} was written and not forgotten since; then {@link #expected} is valid. */
    public boolean knows(long va) {
        int s = slotFor(va >>> 12, false);
        if (s < 0) {
            return false;
        }
        int w = (int) ((va >>> 3) & (WORDS - 1));
        return (known[s][w >>> 6] & (1L << w)) != 0;
    }

    /** The last value written at {@code va}; call only when {@link #knows} is true. */
    public long expected(long va) {
        int s = slotFor(va >>> 12, false);
        return values[s][(int) ((va >>> 3) & (WORDS - 1))];
    }

    /** Forgets pages {@code [startVpn, endVpn)}: they were unmapped or their contents legitimately discarded. */
    public void forget(long startVpn, long endVpn) {
        if (endVpn - startVpn > keys.length) {
            for (int i = 0; i < keys.length; i++) {
                if (keys[i] != EMPTY && keys[i] >= startVpn && keys[i] < endVpn) {
                    Arrays.fill(known[slots[i]], 0L);
                }
            }
            return;
        }
        for (long vpn = startVpn; vpn < endVpn; vpn++) {
            int s = slotFor(vpn, false);
            if (s >= 0) {
                Arrays.fill(known[s], 0L);
            }
        }
    }

    public int pages() {
        return pages;
    }

    private int slotFor(long vpn, boolean create) {
        if (vpn == lastVpn) {
            return lastSlot;
        }
        int i = (int) mix(vpn) & mask;
        while (keys[i] != EMPTY) {
            if (keys[i] == vpn) {
                lastVpn = vpn;
                lastSlot = slots[i];
                return lastSlot;
            }
            i = (i + 1) & mask;
        }
        if (!create) {
            return -1;
        }
        if (pages == values.length) {
            values = Arrays.copyOf(values, pages * 2);
            known = Arrays.copyOf(known, pages * 2);
        }
        int s = pages++;
        values[s] = new long[WORDS];
        known[s] = new long[WORDS / 64];
        keys[i] = vpn;
        slots[i] = s;
        if (pages * 2 > keys.length) {
            rehash();
        }
        lastVpn = vpn;
        lastSlot = s;
        return s;
    }

    private void rehash() {
        long[] oldKeys = keys;
        int[] oldSlots = slots;
        keys = new long[oldKeys.length * 2];
        Arrays.fill(keys, EMPTY);
        slots = new int[keys.length];
        mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != EMPTY) {
                int i = (int) mix(oldKeys[j]) & mask;
                while (keys[i] != EMPTY) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                slots[i] = oldSlots[j];
            }
        }
    }

    private static long mix(long x) {
        x *= 0x9E3779B97F4A7C15L;
        return x ^ (x >>> 29);
    }
}
