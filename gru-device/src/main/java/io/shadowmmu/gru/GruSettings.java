package io.shadowmmu.gru;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

import java.time.Duration;

/**
 * The {@code shadowmmu.gru} section: device geometry (contexts, TLB, flush handles), the generated workload mix, and
 * the two stressors that let a registration land inside an invalidation ({@code context-churn}, {@code slow-ack}).
 *
 * @param contextChurn a device re-creates an mm's binding every this many waits for an invalidation to end (0: never)
 * @param slowAck      a subscriber on every process's mm acknowledges each invalidation this late (zero: none)
 */
public record GruSettings(int devices, int contextsPerDevice, int tlbEntries, int tlbWays, int flushHandles,
                          int rangeFlushMaxPages, int batch, int loadPercent, int storePercent,
                          int processes, long regionBytes, int stressPages, int contextChurn, Duration slowAck) {

    /** The longest slow ack the setting accepts; the host's ack deadline bounds it further. */
    static final Duration SLOW_ACK_MAX = Duration.ofSeconds(10);

    public static GruSettings read(Settings settings) {
        ConfigReader r = settings.reader().section("gru");
        GruSettings g = read(r);
        // A subscriber that acks after the deadline is fenced: it would no longer hold any invalidation open.
        Duration deadline = settings.notifier().ackDeadline();
        if (!g.slowAck.isZero() && g.slowAck.compareTo(deadline) >= 0) {
            throw r.fail("slow-ack", "must be shorter than notifier.ack-deadline (" + deadline.toMillis()
                    + "ms), or the host fences the slow subscriber");
        }
        return g;
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
                r.intBetween("stress-pages", 1, 1 << 20),
                r.intBetween("context-churn", 0, 1 << 30),
                r.duration("slow-ack", Duration.ZERO, SLOW_ACK_MAX));
    }

    /** Whether devices re-create their mm bindings during a run. */
    public boolean churns() {
        return contextChurn > 0;
    }
}
