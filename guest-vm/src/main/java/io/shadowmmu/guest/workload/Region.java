package io.shadowmmu.guest.workload;

/** The guest virtual range a synthetic workload touches: {@code [base, base + length)}, page aligned. */
public record Region(long base, long length) {
    public static final long PAGE_SIZE = 4096;

    public Region {
        if (length <= 0 || length % PAGE_SIZE != 0 || base % PAGE_SIZE != 0 || base < 0) {
            throw new IllegalArgumentException("region must be page aligned and non-empty: base=0x"
                    + Long.toHexString(base) + " length=" + length);
        }
    }

    public long pages() {
        return length / PAGE_SIZE;
    }

    public long end() {
        return base + length;
    }
}
