package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The race catalogue in the VM scenarios: under the scenarios' own host conditions (fault-path latency, live guest
 * pages moved and paged out), each secondary-side or host-side variant is caught within a bounded run (seed and
 * guest accesses below), and the same run with the correct protocol is clean.
 */
class VmRaceCatalogueTest {

    private static JsonNode run(Path json, String scenario, long ops, long seed, String... extra) throws Exception {
        String[] base = {"run", "--scenario", scenario, "-q", "--ops", Long.toString(ops), "--seed",
            Long.toString(seed), "--set", "vm-scenario.vms=2", "--set", "guest.memory=8m", "--set",
            "host.memory=64m", "--json", json.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun r = CliRun.of(args);
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        boolean clean = root.path("oracle").path("clean").asBoolean();
        assertThat(r.exit()).as("exit code follows the verdict: " + r.err()).isEqualTo(clean ? 0 : 1);
        return root;
    }

    /** Guest accesses of each run (over 2 VMs) and its seed: the bound the catalogue is proven within. */
    private static final long OPS = 100_000;
    private static final long SEED = 42;

    @ParameterizedTest(name = "{0}: every variant caught as I3 within 100,000 guest accesses (seed 42), correct run clean")
    @ValueSource(strings = {"vm-tdp", "vm-shadow"})
    void theOracleCatchesEachVariantAndTheCorrectProtocolIsClean(String scenario, @TempDir Path dir)
            throws Exception {
        JsonNode correct = run(dir.resolve("correct.json"), scenario, OPS, SEED);
        assertThat(correct.path("oracle").path("clean").asBoolean())
                .as("the correct protocol: %s", correct.path("oracle")).isTrue();
        assertThat(correct.path("stressor").path("moves").asLong() + correct.path("stressor").path("pageouts")
                .asLong()).as("live guest pages moved or paged out").isPositive();
        assertThat(correct.path("host").path("frames").path("leaked").asLong()).isZero();

        for (String variant : new String[] {"no_fault_retry", "ack_before_flush", "free_before_ack"}) {
            JsonNode broken = run(dir.resolve(variant + ".json"), scenario, OPS, SEED, "--variant", variant);
            assertThat(broken.path("variant").asText()).isEqualToIgnoringCase(variant);
            assertThat(broken.path("oracle").path("violations").path("I3").asLong())
                    .as("I3 violations of %s in %s", variant, scenario).isPositive();
            Stories.assertSomeStoryTells(broken, "I3");
        }
    }

    @ParameterizedTest(name = "{0}: LOST_DIRTY caught as I6 within 100,000 guest accesses (seed 42) on shared-file"
            + " guest RAM under reclaim, correct run clean")
    @ValueSource(strings = {"vm-tdp", "vm-shadow"})
    void lostDirtyIsCaughtOnSharedFileGuestRamAndTheCorrectProtocolIsClean(String scenario, @TempDir Path dir)
            throws Exception {
        JsonNode correct = run(dir.resolve("correct.json"), scenario, OPS, SEED,
                "--set", "vm-scenario.guest-ram=shared-file");
        assertThat(correct.path("oracle").path("clean").asBoolean())
                .as("the correct protocol: %s", correct.path("oracle")).isTrue();
        assertThat(correct.path("guestRam").asText()).isEqualTo("shared-file");
        assertThat(correct.path("host").path("reclaim").path("evicted").asLong())
                .as("guest pages evicted from the page cache").isPositive();

        // The variant selects shared-file guest RAM itself.
        JsonNode broken = run(dir.resolve("lost_dirty.json"), scenario, OPS, SEED, "--variant", "lost_dirty");
        assertThat(broken.path("guestRam").asText()).isEqualTo("shared-file");
        assertThat(broken.path("oracle").path("violations").path("I6").asLong())
                .as("I6 violations of lost_dirty in %s", scenario).isPositive();
    }

    @org.junit.jupiter.api.Test
    void aVariantAScenarioCannotExhibitIsRefusedRatherThanReportedClean() {
        CliRun r = CliRun.of("run", "--scenario", "vm-tdp", "-q", "--variant", "register_unquiesced");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("cannot exhibit variant register_unquiesced").contains("--scenario gru");
        CliRun lost = CliRun.of("run", "--scenario", "gru", "-q", "--variant", "lost_dirty");
        assertThat(lost.exit()).isEqualTo(2);
        assertThat(lost.err()).contains("cannot exhibit variant lost_dirty").contains("LostDirtyTest");
        CliRun stale = CliRun.of("run", "--scenario", "vm-tdp", "-q", "--variant", "stale_inflight_fault");
        assertThat(stale.exit()).isEqualTo(2);
        assertThat(stale.err()).contains("cannot exhibit variant stale_inflight_fault").contains("--scenario cluster");
        CliRun skip = CliRun.of("run", "--scenario", "vm-tdp", "-q", "--variant", "skip_write_back");
        assertThat(skip.exit()).isEqualTo(2);
        assertThat(skip.err()).contains("cannot exhibit variant skip_write_back").contains("--scenario cluster");
        CliRun cluster = CliRun.of("run", "--scenario", "cluster", "-q", "--variant", "no_fault_retry");
        assertThat(cluster.exit()).isEqualTo(2);
        assertThat(cluster.err()).contains("cannot exhibit variant no_fault_retry");
    }
}
