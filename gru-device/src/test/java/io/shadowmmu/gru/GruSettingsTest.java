package io.shadowmmu.gru;

import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GruSettingsTest {
    @Test
    void defaultsAreValid() {
        GruSettings g = GruSettings.from(Settings.defaults());
        assertThat(g.contexts()).isEqualTo(16);
        assertThat(g.tlbEntries()).isEqualTo(512);
        assertThat(g.tlbWays()).isEqualTo(8);
        assertThat(g.tlbSets()).isEqualTo(64);
        assertThat(g.flushHandles()).isEqualTo(4);
        assertThat(g.rangeFlushMaxPages()).isEqualTo(1024);
    }

    @Test
    void overridesApply() {
        GruSettings g = GruSettings.from(Settings.withOverrides(Map.of("gru.contexts", "2",
                "gru.flush-handles", "1", "gru.tlb.ways", "512")));
        assertThat(g.contexts()).isEqualTo(2);
        assertThat(g.flushHandles()).isEqualTo(1);
        assertThat(g.tlbSets()).isEqualTo(1);
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> GruSettings.from(Settings.withOverrides(Map.of("gru.tlb.ways", "7"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("gru.tlb.ways");
        assertThatThrownBy(() -> GruSettings.from(Settings.withOverrides(Map.of("gru.contexts", "0"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("gru.contexts");
        assertThatThrownBy(() -> GruSettings.from(Settings.withOverrides(Map.of("gru.flush-handles", "x"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("gru.flush-handles");
    }
}
