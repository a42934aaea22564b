package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every race-catalogue variant that a mechanism can exhibit is caught by the oracle within a bounded run (seed and
 * operation count below), and the same run with the correct protocol is clean.
 */
class RaceCatalogueTest {

    private static JsonNode run(Path json, String... extra) throws Exception {
        String[] base = {"run", "--scenario", "host-churn", "-q", "--set", "host.memory=16m", "--json",
            json.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun.of(args);
        return new ObjectMapper().readTree(json.toFile());
    }

    @ParameterizedTest(name = "{0}: caught as {1} within {2} operations (seed {3})")
    @CsvSource({
        "no_fault_retry,   I3, 20000, 42",
        "ack_before_flush, I3, 5000,  42",
        "free_before_ack,  I3, 5000,  42",
    })
    void theOracleCatchesTheVariantAndTheCorrectProtocolIsClean(String variant, String invariant, int ops, long seed,
                                                                @TempDir Path dir) throws Exception {
        JsonNode broken = run(dir.resolve("broken.json"), "--variant", variant, "--ops", Integer.toString(ops),
                "--seed", Long.toString(seed));
        assertThat(broken.path("variant").asText()).isEqualToIgnoringCase(variant);
        assertThat(broken.path("oracle").path("violations").path(invariant).asLong())
                .as("%s violations of %s", invariant, variant).isPositive();
        Stories.assertSomeStoryTells(broken, invariant);

        JsonNode correct = run(dir.resolve("correct.json"), "--ops", Integer.toString(ops), "--seed",
                Long.toString(seed));
        assertThat(correct.path("oracle").path("clean").asBoolean()).as("oracle: %s", correct.path("oracle")).isTrue();
    }
}
