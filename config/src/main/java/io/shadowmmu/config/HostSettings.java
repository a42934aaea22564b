package io.shadowmmu.config;

import java.time.Duration;

/**
 * The emulated host machine.
 *
 * @param memoryBytes physical memory; a multiple of {@code pageSize}
 * @param pageSize    base page size in bytes (4096)
 * @param contentMode what a frame stores
 * @param checkMode   frames carry an owner generation verified on secondary hit paths
 * @param faultReplyJitter         longest delay of a delayed get_user_pages answer (zero: answers go at once)
 * @param faultReplyJitterFraction fraction of answers delayed, each by a seeded time up to the jitter
 */
public record HostSettings(long memoryBytes, int pageSize, ContentMode contentMode, boolean checkMode,
                           Duration faultReplyJitter, double faultReplyJitterFraction) {
    public static final int BASE_PAGE_SIZE = 4096;
    /** Frames are numbered by int; keep well inside that and inside a 24 GiB machine. */
    public static final long MAX_MEMORY = 16L << 30;

    public int frames() {
        return (int) (memoryBytes / pageSize);
    }

    static HostSettings read(ConfigReader r) {
        long pageSize = r.bytes("page-size");
        if (pageSize != BASE_PAGE_SIZE) {
            throw r.fail("page-size", "must be 4k (2m huge pages are not supported yet)");
        }
        long memory = r.bytes("memory");
        if (memory <= 0) {
            throw r.fail("memory", "must be positive");
        }
        if (memory % pageSize != 0) {
            throw r.fail("memory", "must be a multiple of the page size " + pageSize);
        }
        if (memory < 16 * pageSize) {
            throw r.fail("memory", "must be at least 16 pages (64k)");
        }
        if (memory > MAX_MEMORY) {
            throw r.fail("memory", "must be at most 16g");
        }
        ContentMode mode = r.enumValue("content-mode", ContentMode.class);
        if (mode == ContentMode.FULL && memory > (4L << 30)) {
            throw r.fail("memory", "must be at most 4g with content-mode = full (use tagged for larger hosts)");
        }
        Duration jitter = r.duration("fault-reply-jitter", Duration.ZERO, Duration.ofSeconds(1));
        double fraction;
        try {
            fraction = Double.parseDouble(r.raw("fault-reply-jitter-fraction"));
        } catch (NumberFormatException e) {
            throw r.fail("fault-reply-jitter-fraction", "must be a fraction between 0 and 1");
        }
        if (!(fraction >= 0 && fraction <= 1)) {
            throw r.fail("fault-reply-jitter-fraction", "must be a fraction between 0 and 1");
        }
        return new HostSettings(memory, (int) pageSize, mode, r.getBoolean("check-mode"), jitter, fraction);
    }
}
