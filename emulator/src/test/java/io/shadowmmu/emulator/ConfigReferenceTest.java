package io.shadowmmu.emulator;

import io.shadowmmu.emulator.docs.ConfigReference;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** docs/CONFIG.md is generated from the reference.conf files and must be in step with them. */
class ConfigReferenceTest {
    /** Tests run in the emulator module's directory. */
    private static final Path ROOT = Path.of("..");

    @Test
    void theDocumentIsUpToDate() throws Exception {
        String expected = ConfigReference.generate(ROOT);
        Path doc = ROOT.resolve(ConfigReference.DOCUMENT);
        String actual = Files.isRegularFile(doc) ? Files.readString(doc, StandardCharsets.UTF_8) : "";
        assertThat(actual).as("%s is out of date with the reference.conf files; regenerate it from the repository"
                + " root with: %s", ConfigReference.DOCUMENT, ConfigReference.REGENERATE).isEqualTo(expected);
    }

    @Test
    void everyModuleWithSettingsHasASectionAndEveryKeyARow() throws Exception {
        String doc = ConfigReference.generate(ROOT);
        assertThat(doc).contains("## config").contains("## guest-vm").contains("## gru-device")
                .contains("## emulator");
        assertThat(doc).contains("| `host.memory` | `256m` |").contains("| `notifier.strategy` | `GATHER` |")
                .contains("| `mixed.duration` | `30s` |");
        assertThat(doc).contains("### `host`").contains("### `mixed`").contains("### `gru.tlb`");
    }
}
