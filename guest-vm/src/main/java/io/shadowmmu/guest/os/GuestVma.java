package io.shadowmmu.guest.os;

/** A guest process's mapping: pages in {@code [start, end)} are demand-paged on first touch. */
public record GuestVma(long start, long end, boolean writable) {
    public GuestVma {
        if (start < 0 || end > GuestLayout.VA_LIMIT || end <= start
                || start % GuestLayout.PAGE_SIZE != 0 || end % GuestLayout.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("guest VMA must be page aligned inside 48 bits: 0x"
                    + Long.toHexString(start) + "-0x" + Long.toHexString(end));
        }
    }

    public boolean contains(long gva) {
        return gva >= start && gva < end;
    }
}
