package io.shadowmmu.config;

/** @param flushAllThreshold above this many pages a range flush becomes a full flush */
public record TlbSettings(int flushAllThreshold) {
    static TlbSettings read(ConfigReader r) {
        return new TlbSettings(r.intBetween("flush-all-threshold", 1, 1 << 20));
    }
}
