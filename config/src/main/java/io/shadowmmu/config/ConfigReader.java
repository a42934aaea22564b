package io.shadowmmu.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Reads typed values from one config subtree and turns every failure into a {@link SettingsException} naming the
 * key (relative to {@code shadowmmu}), the value and the rule. Modules use it to read their own sections.
 */
public final class ConfigReader {
    private final Config config;
    private final String prefix;

    public ConfigReader(Config config, String prefix) {
        this.config = config;
        this.prefix = prefix.isEmpty() ? "" : prefix + ".";
    }

    /** A reader for a nested section, e.g. {@code reader.section("host")}. */
    public ConfigReader section(String path) {
        return new ConfigReader(config.getConfig(path), prefix + path);
    }

    public String key(String path) {
        return prefix + path;
    }

    public String raw(String path) {
        if (!config.hasPath(path)) {
            return "<missing>";
        }
        return config.getValue(path).unwrapped().toString();
    }

    public long getLong(String path) {
        try {
            return config.getLong(path);
        } catch (ConfigException e) {
            throw fail(path, "must be a whole number");
        }
    }

    public long longAtLeast(String path, long min) {
        long v = getLong(path);
        if (v < min) {
            throw fail(path, "must be at least " + min);
        }
        return v;
    }

    public int intBetween(String path, int min, int max) {
        long v = getLong(path);
        if (v < min || v > max) {
            throw fail(path, "must be between " + min + " and " + max);
        }
        return (int) v;
    }

    public boolean getBoolean(String path) {
        try {
            return config.getBoolean(path);
        } catch (ConfigException e) {
            throw fail(path, "must be on/off (true/false)");
        }
    }

    public long bytes(String path) {
        try {
            return config.getBytes(path);
        } catch (ConfigException e) {
            throw fail(path, "must be a size such as 4k, 256m or 2g");
        }
    }

    public Duration duration(String path, Duration min, Duration max) {
        Duration d;
        try {
            d = config.getDuration(path);
        } catch (ConfigException e) {
            throw fail(path, "must be a duration such as 500ms or 2s");
        }
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            throw fail(path, "must be between " + pretty(min) + " and " + pretty(max));
        }
        return d;
    }

    public <E extends Enum<E>> E enumValue(String path, Class<E> type) {
        String v;
        try {
            v = config.getString(path);
        } catch (ConfigException e) {
            throw fail(path, "must be one of " + choices(type));
        }
        String normalized = v.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(normalized)) {
                return e;
            }
        }
        throw fail(path, "must be one of " + choices(type));
    }

    public SettingsException fail(String path, String rule) {
        return new SettingsException(key(path), raw(path), rule);
    }

    private static <E extends Enum<E>> String choices(Class<E> type) {
        return Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(", "));
    }

    private static String pretty(Duration d) {
        if (d.toMillis() == 0) {
            return d.toNanos() + "ns";
        }
        if (d.toMillis() % 1000 == 0) {
            return d.toSeconds() + "s";
        }
        return d.toMillis() + "ms";
    }
}
