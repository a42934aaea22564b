package io.shadowmmu.guest.vm;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;
import io.shadowmmu.guest.tlb.TlbGeometry;

/** The {@code shadowmmu.guest} section, validated: every bad value is reported with its key. */
public record GuestSettings(long memoryBytes, int vcpus, int sliceAccesses, TlbGeometry tlb, boolean goldenCheck) {
    public static final long PAGE_SIZE = 4096;

    public static GuestSettings from(Settings settings) {
        return read(settings.reader().section("guest"));
    }

    public static GuestSettings read(ConfigReader r) {
        long memory = r.bytes("memory");
        if (memory < 16 * PAGE_SIZE || memory % PAGE_SIZE != 0) {
            throw r.fail("memory", "must be a multiple of 4k and at least 64k");
        }
        if (memory / PAGE_SIZE > Integer.MAX_VALUE) {
            throw r.fail("memory", "is too large");
        }
        int vcpus = r.intBetween("vcpus", 1, 256);
        int slice = r.intBetween("slice-accesses", 1, 10_000_000);
        ConfigReader t = r.section("tlb");
        int entries = t.intBetween("entries", 1, 1 << 16);
        int ways = t.intBetween("ways", 1, 1 << 16);
        TlbGeometry geometry;
        try {
            geometry = new TlbGeometry(entries, ways);
        } catch (IllegalArgumentException e) {
            throw t.fail("ways", e.getMessage());
        }
        return new GuestSettings(memory, vcpus, slice, geometry, r.getBoolean("golden-check"));
    }

    public long guestFrames() {
        return memoryBytes / PAGE_SIZE;
    }
}
