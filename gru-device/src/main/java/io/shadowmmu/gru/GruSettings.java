package io.shadowmmu.gru;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

/** The {@code shadowmmu.gru} section, validated: every bad value is reported with its key. */
public record GruSettings(int contexts, int tlbEntries, int tlbWays, int flushHandles, int rangeFlushMaxPages,
                          int batchInstructions) {

    public GruSettings {
        if (contexts < 1 || tlbEntries < 1 || tlbWays < 1 || tlbEntries % tlbWays != 0 || flushHandles < 1
                || rangeFlushMaxPages < 1 || batchInstructions < 1) {
            throw new IllegalArgumentException("bad GRU geometry: " + contexts + " contexts, " + tlbEntries
                    + " entries, " + tlbWays + " ways, " + flushHandles + " handles");
        }
    }

    public static GruSettings from(Settings settings) {
        return read(settings.reader().section("gru"));
    }

    public static GruSettings read(ConfigReader r) {
        int contexts = r.intBetween("contexts", 1, 4096);
        int entries = r.intBetween("tlb.entries", 1, 1 << 20);
        int ways = r.intBetween("tlb.ways", 1, entries);
        if (entries % ways != 0) {
            throw r.fail("tlb.ways", "must divide tlb.entries (" + entries + ")");
        }
        int handles = r.intBetween("flush-handles", 1, 1024);
        int maxPages = r.intBetween("range-flush-max-pages", 1, 1 << 20);
        int batch = r.intBetween("batch-instructions", 1, 1 << 20);
        return new GruSettings(contexts, entries, ways, handles, maxPages, batch);
    }

    public int tlbSets() {
        return tlbEntries / tlbWays;
    }
}
