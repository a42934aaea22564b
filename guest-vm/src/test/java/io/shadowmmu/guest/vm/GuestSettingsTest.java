package io.shadowmmu.guest.vm;

import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GuestSettingsTest {
    @Test
    void defaultsAreValid() {
        GuestSettings g = GuestSettings.from(Settings.defaults());
        assertThat(g.guestFrames()).isEqualTo(64L * 1024 * 1024 / 4096);
        assertThat(g.tlb().entries()).isEqualTo(64);
        assertThat(g.tlb().ways()).isEqualTo(4);
        assertThat(g.goldenCheck()).isTrue();
    }

    @Test
    void aFullyAssociativeTlbCanBeConfigured() {
        GuestSettings g = GuestSettings.from(Settings.withOverrides(Map.of("guest.tlb.ways", "64")));
        assertThat(g.tlb().sets()).isEqualTo(1);
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> GuestSettings.from(Settings.withOverrides(Map.of("guest.tlb.ways", "5"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("guest.tlb.ways");
        assertThatThrownBy(() -> GuestSettings.from(Settings.withOverrides(Map.of("guest.vcpus", "0"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("guest.vcpus");
        assertThatThrownBy(() -> GuestSettings.from(Settings.withOverrides(Map.of("guest.memory", "5k"))))
                .isInstanceOf(SettingsException.class).hasMessageContaining("guest.memory");
    }
}
