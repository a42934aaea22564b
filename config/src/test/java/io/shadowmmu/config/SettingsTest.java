package io.shadowmmu.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SettingsTest {

    @Test
    void defaultsAreValid() {
        Settings s = Settings.defaults();
        assertThat(s.host().memoryBytes()).isEqualTo(256L << 20);
        assertThat(s.host().pageSize()).isEqualTo(4096);
        assertThat(s.host().frames()).isEqualTo(65536);
        assertThat(s.host().contentMode()).isEqualTo(ContentMode.FULL);
        assertThat(s.notifier().strategy()).isEqualTo(DeliveryStrategyKind.GATHER);
        assertThat(s.notifier().ackDeadline()).isEqualTo(Duration.ofMillis(500));
        assertThat(s.tlb().flushAllThreshold()).isEqualTo(33);
        assertThat(s.oracle().enabled()).isTrue();
    }

    @Test
    void overridesApply() {
        Settings s = Settings.withOverrides(Map.of("host.memory", "64m", "notifier.strategy", "range",
                "host.content-mode", "tagged", "seed", "7", "notifier.ack-deadline", "2s"));
        assertThat(s.host().memoryBytes()).isEqualTo(64L << 20);
        assertThat(s.notifier().strategy()).isEqualTo(DeliveryStrategyKind.RANGE);
        assertThat(s.host().contentMode()).isEqualTo(ContentMode.TAGGED);
        assertThat(s.seed()).isEqualTo(7);
        assertThat(s.notifier().ackDeadline()).isEqualTo(Duration.ofSeconds(2));
    }

    /** One row per validation rule: the key, a bad value, and words the message must contain. */
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "host.memory | 4097k | host.memory = 4097k: must be a multiple of the page size 4096",
        "host.memory | 10000 | must be a multiple of the page size 4096",
        "host.memory | 8k | must be at least 16 pages",
        "host.memory | 32g | must be at most 16g",
        "host.memory | 8g | at most 4g with content-mode = full",
        "host.memory | lots | must be a size such as",
        "host.page-size | 2m | host.page-size = 2m: must be 4k",
        "host.page-size | 8k | must be 4k",
        "host.content-mode | compressed | must be one of full, tagged",
        "host.check-mode | maybe | must be on/off",
        "host.fault-reply-jitter | 2s | must be between 0ns and 1s",
        "host.fault-reply-jitter-fraction | 1.5 | must be a fraction between 0 and 1",
        "host.fault-reply-jitter-fraction | often | must be a fraction between 0 and 1",
        "notifier.strategy | fastest | must be one of per_page, per_pt_page, range, gather, two_phase",
        "notifier.ack-deadline | 0ms | must be between 1ms and 600s",
        "notifier.ack-deadline | 11m | must be between 1ms and 600s",
        "notifier.ack-deadline | soon | must be a duration",
        "notifier.max-ranges-per-message | 0 | must be between 1 and",
        "notifier.max-pages-per-batch | -5 | must be between 1 and",
        "notifier.fence-poll-interval | 5s | must be between",
        "notifier.nack-retry-delay | 0ms | must be between",
        "tlb.flush-all-threshold | 0 | must be between 1 and",
        "oracle.story-length | 0 | must be between 1 and 1024",
        "seed | abc | must be a whole number",
        "variant | racy | must be one of none, no_fault_retry, ack_before_flush, free_before_ack",
        "reclaim.low-watermark | 1.5 | must be a fraction between 0 and 1",
        "reclaim.high-watermark | 0.01 | must be at least reclaim.low-watermark",
        "reclaim.scan-batch | 0 | must be between 1 and",
        "reclaim.oom-retry-limit | -1 | must be between 0 and",
        "migration.interval | 0s | must be between",
        "ksm.pages-per-scan | 0 | must be between 1 and",
        "host.memroy | 64m | host.memroy = 64m: is not a known setting",
    })
    void eachRuleRejectsABadValueNamingTheKey(String key, String value, String expected) {
        assertThatThrownBy(() -> Settings.withOverrides(Map.of(key, value)))
                .isInstanceOf(SettingsException.class)
                .hasMessageStartingWith(key + " = ")
                .hasMessageContaining(expected)
                .satisfies(e -> assertThat(((SettingsException) e).key()).isEqualTo(key));
    }

    @Test
    void tagModeAllowsLargeHosts() {
        Settings s = Settings.withOverrides(Map.of("host.memory", "8g", "host.content-mode", "tagged"));
        assertThat(s.host().frames()).isEqualTo(2 * 1024 * 1024);
    }

    @Test
    void modulesReadTheirOwnSectionsWithTheSameRules() {
        ConfigReader r = Settings.defaults().reader().section("notifier");
        assertThat(r.key("ack-deadline")).isEqualTo("notifier.ack-deadline");
        assertThatThrownBy(() -> r.intBetween("max-ranges-per-message", 100, 200))
                .hasMessage("notifier.max-ranges-per-message = 64: must be between 100 and 200");
    }
}
