package io.shadowmmu.config;

/**
 * @param enabled     check invariants online
 * @param storyLength events kept per frame to explain a violation
 */
public record OracleSettings(boolean enabled, int storyLength) {
    static OracleSettings read(ConfigReader r) {
        return new OracleSettings(r.getBoolean("enabled"), r.intBetween("story-length", 1, 1024));
    }
}
