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
    void anUnknownGruKeyIsRejected() {
        assertThatThrownBy(() -> Settings.withOverrides(Map.of("gru.tlb.entires", "64")))
                .isInstanceOf(SettingsException.class).hasMessageContaining("gru.tlb.entires");
    }
}
