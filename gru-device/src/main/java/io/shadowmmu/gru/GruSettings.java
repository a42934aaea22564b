package io.shadowmmu.gru;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

/**
 * The {@code shadowmmu.gru} section: device geometry (contexts, TLB, flush handles) and the generated workload mix.
 */
public record GruSettings(int devices, int contextsPerDevice, int tlbEntries, int tlbWays, int flushHandles,
                          int rangeFlushMaxPages, int batch, int loadPercent, int storePercent,
                          int processes, long regionBytes, int stressPages) {

    public static GruSettings read(Settings settings) {
        return read(settings.reader().section("gru"));
    }

    private static long region(ConfigReader r) {
        long bytes = r.bytes("region");
        if (bytes < 4096 || bytes % 4096 != 0) {
            throw r.fail("region", "must be a positive multiple of the page size 4096");
        }
        return bytes;
    }

    public static GruSettings read(ConfigReader r) {
        int ways = r.intBetween("tlb.ways", 1, 64);
        int entries = r.intBetween("tlb.entries", 1, 1 << 20);
        if (entries % ways != 0 || Integer.bitCount(entries / ways) != 1) {
            throw r.fail("tlb.entries", "must be ways (" + ways + ") times a power of two");
        }
        int load = r.intBetween("load-percent", 0, 100);
        int store = r.intBetween("store-percent", 0, 100);
        if (load + store > 100) {
            throw r.fail("store-percent", "load-percent + store-percent must be at most 100");
        }
        return new GruSettings(
                r.intBetween("devices", 1, 64),
                r.intBetween("contexts-per-device", 1, 1024),
                entries,
                ways,
                r.intBetween("flush-handles", 1, 64),
                r.intBetween("range-flush-max-pages", 1, 1 << 20),
                r.intBetween("batch", 1, 65536),
                load,
                store,
                r.intBetween("processes", 1, 4096),
                region(r),
                r.intBetween("stress-pages", 1, 1 << 20));
    }
}
