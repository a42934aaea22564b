package io.shadowmmu.gru;

import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GruSettingsTest {

    @Test
    void defaultsComeFromReferenceConf() {
        GruSettings g = GruSettings.read(Settings.defaults());
        assertThat(g.tlbEntries()).isEqualTo(2048);
        assertThat(g.tlbWays()).isEqualTo(8);
        assertThat(g.rangeFlushMaxPages()).isEqualTo(1024);
        assertThat(g.regionBytes()).isEqualTo(1 << 20);
    }

    @Test
    void aBadGeometryNamesItsKey() {
        Settings s = Settings.withOverrides(Map.of("gru.tlb.entries", "100"));
        assertThatThrownBy(() -> GruSettings.read(s)).isInstanceOf(SettingsException.class)
                .hasMessageContaining("gru.tlb.entries").hasMessageContaining("power of two");
    }

    @Test
    void theMixCannotExceedAHundredPercent() {
        Settings s = Settings.withOverrides(Map.of("gru.load-percent", "80", "gru.store-percent", "30"));
        assertThatThrownBy(() -> GruSettings.read(s)).hasMessageContaining("gru.store-percent");
    }

    @Test
    void churnAndSlowAckAreOffByDefault() {
        GruSettings g = GruSettings.read(Settings.defaults());
        assertThat(g.contextChurn()).isZero();
        assertThat(g.churns()).isFalse();
        assertThat(g.slowAck()).isZero();
    }

    @Test
    void aNegativeChurnNamesItsKeyAndRule() {
        Settings s = Settings.withOverrides(Map.of("gru.context-churn", "-1"));
        assertThatThrownBy(() -> GruSettings.read(s)).isInstanceOf(SettingsException.class)
                .hasMessageContaining("gru.context-churn").hasMessageContaining("between 0 and");
    }

    @Test
    void aSlowAckMustStayBelowTheAckDeadline() {
        Settings s = Settings.withOverrides(Map.of("gru.slow-ack", "600ms", "notifier.ack-deadline", "500ms"));
        assertThatThrownBy(() -> GruSettings.read(s)).isInstanceOf(SettingsException.class)
                .hasMessageContaining("gru.slow-ack").hasMessageContaining("notifier.ack-deadline");
        Settings bad = Settings.withOverrides(Map.of("gru.slow-ack", "soon"));
        assertThatThrownBy(() -> GruSettings.read(bad)).hasMessageContaining("gru.slow-ack")
                .hasMessageContaining("duration");
        assertThat(GruSettings.read(Settings.withOverrides(Map.of("gru.slow-ack", "10ms"))).slowAck())
                .isEqualTo(java.time.Duration.ofMillis(10));
    }

    @Test
    void anUnknownGruKeyIsRejected() {
        assertThatThrownBy(() -> Settings.withOverrides(Map.of("gru.tlb.entires", "64")))
                .isInstanceOf(SettingsException.class).hasMessageContaining("gru.tlb.entires");
    }
}
