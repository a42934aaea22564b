package io.shadowmmu.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;

import java.util.Map;

/**
 * Every setting of a run, validated. Build it with {@link #load()} (application.conf + reference.conf),
 * {@link #fromConfig(Config)} or {@link #withOverrides(Map)}; each rejects a bad value with a
 * {@link SettingsException} naming the key, the value and the rule.
 *
 * <p>Modules with settings of their own read them from {@link #reader()} and validate them the same way.
 */
public record Settings(long seed, HostSettings host, NotifierSettings notifier, TlbSettings tlb,
                       OracleSettings oracle, PressureSettings pressure, Config root) {
    public static final String ROOT = "shadowmmu";

    /** Defaults from reference.conf, overridden by application.conf and system properties. */
    public static Settings load() {
        return fromConfig(ConfigFactory.load());
    }

    /** Defaults only (reference.conf), the base for tests. */
    public static Settings defaults() {
        return fromConfig(ConfigFactory.defaultReference());
    }

    /** Parses {@code key=value} overrides (keys relative to {@code shadowmmu}) over the defaults. */
    public static Settings withOverrides(Map<String, String> overrides) {
        return withOverrides(ConfigFactory.load(), overrides);
    }

    public static Settings withOverrides(Config base, Map<String, String> overrides) {
        Config merged = base;
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            String key = e.getKey().trim();
            Config one;
            try {
                one = ConfigFactory.parseString(ROOT + "." + key + " = " + quoteIfNeeded(e.getValue()));
            } catch (ConfigException ex) {
                throw new SettingsException(key, e.getValue(), "is not a valid HOCON key or value");
            }
            merged = one.withFallback(merged);
        }
        return fromConfig(merged.resolve());
    }

    public static Settings fromConfig(Config config) {
        Config withDefaults = config.withFallback(ConfigFactory.defaultReference()).resolve();
        Config section = withDefaults.getConfig(ROOT);
        rejectUnknownKeys(section);
        ConfigReader r = new ConfigReader(section, "");
        return new Settings(
                r.getLong("seed"),
                HostSettings.read(r.section("host")),
                NotifierSettings.read(r.section("notifier")),
                TlbSettings.read(r.section("tlb")),
                OracleSettings.read(r.section("oracle")),
                PressureSettings.read(r),
                withDefaults);
    }

    /** A reader over the {@code shadowmmu} section for module-specific settings. */
    public ConfigReader reader() {
        return new ConfigReader(root.getConfig(ROOT), "");
    }

    public Settings withNotifier(NotifierSettings other) {
        return new Settings(seed, host, other, tlb, oracle, pressure, root);
    }

    public Settings withSeed(long other) {
        return new Settings(other, host, notifier, tlb, oracle, pressure, root);
    }

    /** A typo in a key must not be silently ignored: every key must exist in some reference.conf. */
    private static void rejectUnknownKeys(Config section) {
        Config reference = ConfigFactory.defaultReference().getConfig(ROOT);
        for (Map.Entry<String, ConfigValue> e : section.entrySet()) {
            if (!reference.hasPathOrNull(e.getKey()) && !isOpenSection(reference, e.getKey())) {
                throw new SettingsException(e.getKey(), String.valueOf(e.getValue().unwrapped()),
                        "is not a known setting (see reference.conf)");
            }
        }
    }

    /** Sections declared as empty objects in reference.conf accept any key (e.g. per-scenario parameters). */
    private static boolean isOpenSection(Config reference, String key) {
        String path = key;
        int dot;
        while ((dot = path.lastIndexOf('.')) > 0) {
            path = path.substring(0, dot);
            if (reference.hasPath(path) && reference.getValue(path).valueType() == com.typesafe.config.ConfigValueType.OBJECT
                    && reference.getConfig(path).isEmpty()) {
                return true;
            }
        }
        return false;
    }

    private static String quoteIfNeeded(String value) {
        String v = value.trim();
        if (v.isEmpty()) {
            return "\"\"";
        }
        return v;
    }
}
