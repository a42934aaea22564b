package io.shadowmmu.emulator;

import io.shadowmmu.emulator.scenario.Scenarios;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's scenario table stays in step with what {@code shadowmmu scenarios} lists. */
class ReadmeTest {

    @Test
    void everyScenarioHasARowAndTheDefaultIsNamed() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
        for (String name : Scenarios.all().keySet()) {
            assertThat(readme).as("README row for scenario %s", name)
                    .containsPattern("(?m)^\\| [^|]*`" + name + "`");
        }
        assertThat(readme).contains("**default scenario, `" + Scenarios.DEFAULT + "`**");
    }
}
