package io.shadowmmu.guest.vcpu;

/**
 * A set of page numbers that is emptied in constant time: open addressing over preallocated arrays, with a stamp per
 * slot instead of clearing them. It allocates nothing after construction, so the vCPU's access loop can ask it
 * without touching the heap. Holds at most {@code capacity} pages.
 */
final class PageSet {
    private final long[] keys;
    private final int[] stamps;
    private final int mask;
    private int stamp = 1;
    private int size;

    PageSet(int capacity) {
        int n = Integer.highestOneBit(Math.max(4, capacity) * 2 - 1) << 1; // load factor at most 1/2
        keys = new long[n];
        stamps = new int[n];
        mask = n - 1;
    }

    boolean isEmpty() {
        return size == 0;
    }

    boolean contains(long page) {
        if (size == 0) {
            return false;
        }
        for (int i = slot(page); stamps[i] == stamp; i = (i + 1) & mask) {
            if (keys[i] == page) {
                return true;
            }
        }
        return false;
    }

    void add(long page) {
        int i = slot(page);
        for (; stamps[i] == stamp; i = (i + 1) & mask) {
            if (keys[i] == page) {
                return;
            }
        }
        keys[i] = page;
        stamps[i] = stamp;
        size++;
    }

    void clear() {
        size = 0;
        if (++stamp == Integer.MAX_VALUE) {
            java.util.Arrays.fill(stamps, 0);
            stamp = 1;
        }
    }

    private int slot(long page) {
        long h = page * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
