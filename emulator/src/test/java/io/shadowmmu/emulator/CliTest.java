package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line as a user meets it: exit codes, error lines, and the JSON of a short run. */
class CliTest {

    @Test
    void aBadSettingIsOneLineNamingTheKeyAndExitCode2() {
        CliRun r = CliRun.of("run", "--scenario", "host-churn", "--set", "host.memory=4097k");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo(
                "shadowmmu: host.memory = 4097k: must be a multiple of the page size 4096");
    }

    @Test
    void anUnknownKeyIsRejected() {
        CliRun r = CliRun.of("run", "--set", "notifier.stratgey=range");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("notifier.stratgey = range: is not a known setting");
    }

    @Test
    void aBadScenarioSettingIsRejectedToo() {
        CliRun r = CliRun.of("run", "--scenario", "host-churn", "--set", "churn.processes=0", "--ops", "10", "-q");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("churn.processes = 0: must be between 1 and 256");
    }

    @Test
    void anUnknownScenarioIsNamed() {
        CliRun r = CliRun.of("run", "--scenario", "warp-drive");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("unknown scenario 'warp-drive'").contains("host-churn");
    }

    @Test
    void durationIsCheckedAndOnlyForTimeBoundedScenarios() {
        CliRun bad = CliRun.of("run", "--duration", "soon");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--duration soon: not a duration");
        CliRun churn = CliRun.of("run", "--scenario", "host-churn", "--duration", "5s");
        assertThat(churn.exit()).isEqualTo(2);
        assertThat(churn.err()).contains("host-churn is bounded by --ops");
    }

    @Test
    void scenariosListsHostChurn() {
        CliRun r = CliRun.of("scenarios");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("host-churn");
    }

    @Test
    void versionAndHelp() {
        assertThat(CliRun.of("--version").out()).contains("shadowmmu").contains("Akka 2.8.5");
        assertThat(CliRun.of("run", "--help").out()).contains("--scenario").contains("--set").contains("--json");
    }

    @Test
    void aShortHostChurnRunIsCleanAndItsJsonHasTheReportedKeys(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("out.json");
        CliRun r = CliRun.of("run", "--scenario", "host-churn", "--ops", "3000", "--seed", "7", "-q",
                "--set", "host.memory=16m", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("oracle: clean");
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("scenario").asText()).isEqualTo("host-churn");
        assertThat(root.path("seed").asLong()).isEqualTo(7);
        assertThat(root.path("ops").asLong()).isEqualTo(3000);
        for (String key : new String[] {"faults", "invalidations", "batches", "messages", "fenced"}) {
            assertThat(root.path("host").has(key)).as("host.%s", key).isTrue();
        }
        assertThat(root.path("host").path("faults").asLong()).isPositive();
        assertThat(root.path("host").path("invalidations").asLong()).isPositive();
        JsonNode frames = root.path("host").path("frames");
        assertThat(frames.path("allocated").asLong()).isZero();
        assertThat(frames.path("pendingFree").asLong()).isZero();
        assertThat(frames.path("free").asLong()).isEqualTo(4096);
        JsonNode violations = root.path("oracle").path("violations");
        for (String inv : new String[] {"I1", "I2", "I3", "I4", "I5", "I6"}) {
            assertThat(violations.path(inv).asLong()).as(inv).isZero();
        }
        assertThat(root.path("elapsed_ms").asLong()).isPositive();
    }

    @Test
    void aSubscriberSlowerThanTheDeadlineIsFencedWithoutViolationOrLeak(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("fence.json");
        CliRun r = CliRun.of("run", "--scenario", "host-churn", "--ops", "2000", "--seed", "3", "-q",
                "--set", "host.memory=16m", "--set", "notifier.ack-deadline=20ms",
                "--set", "churn.slow-ack-delay=100ms", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("host").path("fenced").asLong()).isPositive();
        assertThat(root.path("host").path("frames").path("leaked").asLong()).isZero();
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
    }
}
