package io.shadowmmu.emulator.cli;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import java.time.Duration;

/** Parses a command-line duration the way the settings do (HOCON: 30s, 2m, 500ms), a bare number being seconds. */
final class Durations {
    private Durations() {
    }

    static Duration parse(String text) {
        String t = text.trim();
        if (t.matches("\\d+")) {
            t = t + "s";
        }
        Duration d;
        try {
            d = ConfigFactory.parseString("d = \"" + t.replace("\"", "") + "\"").getDuration("d");
        } catch (ConfigException e) {
            throw new IllegalArgumentException("not a duration (examples: 30s, 2m, 500ms)");
        }
        if (d.compareTo(Duration.ofMillis(100)) < 0 || d.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("must be between 100ms and 1d");
        }
        return d;
    }
}
