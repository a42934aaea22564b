package io.shadowmmu.scenario;

import io.shadowmmu.config.DeliveryStrategyKind;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** The emulated host of a scenario: settings under {@code shadowmmu} that the builder lays over its base. */
public final class HostSpec {
    final Map<String, String> overrides = new LinkedHashMap<>();

    /** Physical memory, e.g. {@code "64m"} ({@code host.memory}). */
    public HostSpec memory(String size) {
        return set("host.memory", size);
    }

    /** How invalidations reach the secondaries ({@code notifier.strategy}). */
    public HostSpec strategy(DeliveryStrategyKind strategy) {
        return set("notifier.strategy", strategy.name());
    }

    /** Fault-path latency: a seeded delay of up to {@code max} on some get_user_pages answers. */
    public HostSpec faultReplyJitter(Duration max) {
        return set("host.fault-reply-jitter", max.toNanos() + "ns");
    }

    /** Reclaim, migration and KSM on or off ({@code reclaim.enabled}, {@code migration.enabled}, ...). */
    public HostSpec pressure(boolean reclaim, boolean migration, boolean ksm) {
        set("reclaim.enabled", reclaim ? "on" : "off");
        set("migration.enabled", migration ? "on" : "off");
        return set("ksm.enabled", ksm ? "on" : "off");
    }

    /** Any setting, key relative to {@code shadowmmu} (e.g. {@code notifier.ack-deadline}). */
    public HostSpec set(String key, String value) {
        overrides.put(key, value);
        return this;
    }
}
