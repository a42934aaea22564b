package io.shadowmmu.config;

import java.time.Duration;

/**
 * Memory-pressure daemons of a host: reclaim, migration and KSM.
 *
 * @param reclaimEnabled      evict pages when free memory runs low
 * @param lowWatermark        fraction of frames free below which reclaim starts
 * @param highWatermark       fraction of frames free at which reclaim stops
 * @param scanInterval        how often the reclaimer looks at free memory
 * @param scanBatch           frames one reclaim pass examines
 * @param maxInFlight         evictions in flight at once
 * @param oomRetryInterval    how often a fault without a free frame retries
 * @param oomRetryLimit       retries before such a fault fails with ENOMEM
 * @param migrationEnabled    move pages to new frames periodically
 * @param migrationInterval   period of the migration daemon
 * @param migrationsPerInterval pages moved per period
 * @param ksmEnabled          merge identical anonymous pages
 * @param ksmInterval         period of the KSM scanner
 * @param ksmPagesPerScan     frames the scanner hashes per period
 */
public record PressureSettings(boolean reclaimEnabled, double lowWatermark, double highWatermark,
                               Duration scanInterval, int scanBatch, int maxInFlight, Duration oomRetryInterval,
                               int oomRetryLimit, boolean migrationEnabled, Duration migrationInterval,
                               int migrationsPerInterval, boolean ksmEnabled, Duration ksmInterval,
                               int ksmPagesPerScan) {

    static PressureSettings read(ConfigReader root) {
        ConfigReader r = root.section("reclaim");
        double low = fraction(r, "low-watermark");
        double high = fraction(r, "high-watermark");
        if (high < low) {
            throw r.fail("high-watermark", "must be at least reclaim.low-watermark (" + low + ")");
        }
        ConfigReader m = root.section("migration");
        ConfigReader k = root.section("ksm");
        Duration min = Duration.ofNanos(100_000);
        return new PressureSettings(
                r.getBoolean("enabled"), low, high,
                r.duration("scan-interval", min, Duration.ofSeconds(10)),
                r.intBetween("scan-batch", 1, 1 << 24),
                r.intBetween("max-in-flight", 1, 1 << 20),
                r.duration("oom-retry-interval", min, Duration.ofSeconds(10)),
                r.intBetween("oom-retry-limit", 0, 1 << 24),
                m.getBoolean("enabled"),
                m.duration("interval", min, Duration.ofMinutes(10)),
                m.intBetween("pages-per-interval", 1, 1 << 20),
                k.getBoolean("enabled"),
                k.duration("interval", min, Duration.ofMinutes(10)),
                k.intBetween("pages-per-scan", 1, 1 << 24));
    }

    private static double fraction(ConfigReader r, String path) {
        double v;
        try {
            v = Double.parseDouble(r.raw(path));
        } catch (NumberFormatException e) {
            throw r.fail(path, "must be a fraction between 0 and 1");
        }
        if (v < 0 || v >= 1) {
            throw r.fail(path, "must be a fraction between 0 and 1");
        }
        return v;
    }
}
