package io.shadowmmu.emulator.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shadowmmu.emulator.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The cluster scenario, small: three nodes in this JVM, a clean oracle, and the cross-node numbers reported. */
class ClusterScenarioTest {

    private record Run(int exit, String printed, JsonNode json) {
    }

    private static Run run(Path json, String... extra) throws Exception {
        return run(json, 6000, extra);
    }

    private static Run run(Path json, long ops, String... extra) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            // A slow ack on every 5th invalidation, past the deadline: fences happen even in a short run.
            String[] base = {"run", "--scenario", "cluster", "--ops", Long.toString(ops), "--seed", "42", "-q",
                "--set", "cluster.scenario.slow-every=5", "--no-report", "--json", json.toString()};
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base),
                    java.util.Arrays.stream(extra)).toArray(String[]::new);
            exit = Main.commandLine().execute(args);
        } finally {
            System.setOut(old);
        }
        return new Run(exit, out.toString(StandardCharsets.UTF_8), new ObjectMapper().readTree(json.toFile()));
    }

    @Test
    void aShortClusterRunIsCleanAndReportsAckLatencyAndFences(@TempDir Path dir) throws Exception {
        Run run = run(dir.resolve("c.json"));
        String printed = run.printed();
        assertThat(run.exit()).as(printed).isZero();
        assertThat(printed).contains("ack latency p50").contains("oracle: clean");
        JsonNode tree = run.json();
        assertThat(tree.at("/oracle/clean").asBoolean()).isTrue();
        assertThat(tree.at("/nodes").asInt()).isEqualTo(3);
        assertThat(tree.at("/importers").asInt()).isEqualTo(12);
        assertThat(tree.at("/accesses/ok").asLong()).isPositive();
        assertThat(tree.at("/invalidation/ackLatencyMicros/count").asLong()).isPositive();
        assertThat(tree.at("/invalidation/ackLatencyMicros/p99").asLong())
                .isGreaterThanOrEqualTo(tree.at("/invalidation/ackLatencyMicros/p50").asLong());
        assertThat(tree.at("/invalidation/maxInFlightPerImporter").asLong()).isEqualTo(1);
        assertThat(tree.at("/fences/deadline").asLong()).isPositive();
        assertThat(tree.at("/frames/leaked").asLong()).isZero();
        // Mapped by ranges by default: pages come over in blocks, hits touch local copies, writes come back.
        assertThat(tree.at("/importMode").asText()).isEqualTo("copy");
        assertThat(tree.at("/exporter/remoteAccesses").asLong()).as("no per-word remote access").isZero();
        assertThat(tree.at("/exporter/pagesCopied").asLong()).isPositive();
        assertThat(tree.at("/exporter/pagesWrittenBack").asLong()).isPositive();
        assertThat(tree.at("/importer/hitRatio").asDouble()).isGreaterThan(0.0);
        assertThat(printed).contains("mapped by ranges").contains("accesses/s");
        // Reads of the words the importers wrote are checked against their golden copies, and all match.
        assertThat(tree.at("/accesses/checkedReads").asLong()).isPositive();
        assertThat(tree.at("/accesses/staleReads").asLong()).isZero();
        assertThat(printed).contains("golden copies (I1)");
    }

    @Test
    void thePerWordModeIsStillAvailableAndClean(@TempDir Path dir) throws Exception {
        Run run = run(dir.resolve("w.json"), "--set", "cluster.scenario.import-mode=per-word");
        assertThat(run.exit()).as(run.printed()).isZero();
        JsonNode tree = run.json();
        assertThat(tree.at("/oracle/clean").asBoolean()).isTrue();
        assertThat(tree.at("/importMode").asText()).isEqualTo("per-word");
        assertThat(tree.at("/exporter/remoteAccesses").asLong()).isPositive();
        assertThat(tree.at("/exporter/pagesCopied").asLong()).isZero();
        assertThat(tree.at("/accesses/checkedReads").asLong()).isPositive();
        assertThat(tree.at("/fences/deadline").asLong()).isPositive();
        assertThat(tree.at("/frames/leaked").asLong()).isZero();
    }

    /**
     * Mapped by ranges, a stale range answer installed anyway (the variant) leaves a copy of a frame the exporter
     * has freed since; its write-back at the next invalidation lands on a free or reused frame: I3 at the exporter.
     */
    @Test
    void theStaleInflightFaultVariantIsCaughtInTheSameRun(@TempDir Path dir) throws Exception {
        Run broken = run(dir.resolve("broken.json"), "--variant", "stale_inflight_fault");
        assertThat(broken.exit()).as(broken.printed()).isEqualTo(Main.EXIT_VIOLATION);
        assertThat(broken.json().at("/oracle/violations/I3").asLong()).isPositive();
        assertThat(broken.json().at("/exporter/staleAccesses").asLong()).isPositive();
        // The stale translation may also be read before it is caught, so the first story may be its I1.
        List<String> stories = new ArrayList<>();
        broken.json().at("/oracle/stories").forEach(story -> stories.add(story.asText()));
        assertThat(stories).anySatisfy(story -> assertThat(story).contains("I3").contains("importer"));
        assertThat(broken.json().at("/importMode").asText()).isEqualTo("copy");
        assertThat(broken.json().at("/exporter/remoteAccesses").asLong()).isZero();
    }

    @Test
    void theStaleInflightFaultVariantIsCaughtPerWordToo(@TempDir Path dir) throws Exception {
        Run broken = run(dir.resolve("broken-w.json"), "--variant", "stale_inflight_fault",
                "--set", "cluster.scenario.import-mode=per-word");
        assertThat(broken.exit()).as(broken.printed()).isEqualTo(Main.EXIT_VIOLATION);
        assertThat(broken.json().at("/oracle/violations/I3").asLong()).isPositive();
        assertThat(broken.json().at("/exporter/staleAccesses").asLong()).isPositive();
    }

    /**
     * Mapped by ranges, an importer that drops its dirty copies at an invalidation without writing them back (the
     * variant) loses its writes: its driver reads them back, fetched again from the exporter, as older values (I1).
     * The correct protocol under the same run (seed, budget, settings) checks reads too and finds none stale.
     */
    @Test
    void theSkipWriteBackVariantIsCaughtAsLostWritesWhileTheCorrectProtocolIsClean(@TempDir Path dir)
            throws Exception {
        Run correct = run(dir.resolve("correct.json"));
        assertThat(correct.exit()).as(correct.printed()).isZero();
        assertThat(correct.json().at("/oracle/clean").asBoolean()).isTrue();
        assertThat(correct.json().at("/accesses/checkedReads").asLong()).isPositive();
        assertThat(correct.json().at("/accesses/staleReads").asLong()).isZero();
        assertThat(correct.json().at("/exporter/pagesWrittenBack").asLong()).isPositive();

        Run broken = run(dir.resolve("skip.json"), "--variant", "skip_write_back");
        assertThat(broken.exit()).as(broken.printed()).isEqualTo(Main.EXIT_VIOLATION);
        assertThat(broken.json().at("/oracle/violations/I1").asLong()).isPositive();
        assertThat(broken.json().at("/accesses/staleReads").asLong()).isPositive();
        assertThat(broken.json().at("/oracle/stories/0").asText()).contains("I1").contains("a write was lost");
        assertThat(broken.json().at("/importMode").asText()).isEqualTo("copy");
    }

    @Test
    void theSkipWriteBackVariantIsRefusedPerWord(@TempDir Path dir) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute("run", "--scenario", "cluster", "--ops", "100", "-q", "--no-report",
                    "--variant", "skip_write_back", "--set", "cluster.scenario.import-mode=per-word");
        } finally {
            System.setErr(old);
        }
        // Per word nothing is copied: a clean run of the broken variant would prove nothing.
        assertThat(exit).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("import-mode").contains("skip_write_back");
    }

    /**
     * The soak: 2,000,000 remote accesses under -Pstress (CI runs it), 40,000 otherwise. Slow acks past the deadline
     * on every 5th invalidation keep fences and re-attaches going all the way.
     */
    @Test
    void aSoakRunStaysCleanThroughFencesAndReattaches(@TempDir Path dir) throws Exception {
        long ops = Boolean.getBoolean("shadowmmu.stress") ? 2_000_000 : 40_000;
        Run run = run(dir.resolve("soak.json"), ops);
        assertThat(run.exit()).as(run.printed()).isZero();
        JsonNode tree = run.json();
        assertThat(tree.at("/oracle/clean").asBoolean()).isTrue();
        assertThat(tree.at("/frames/leaked").asLong()).isZero();
        assertThat(tree.at("/accesses/ok").asLong()).isGreaterThan(ops / 2);
        assertThat(tree.at("/fences/deadline").asLong()).isPositive();
        assertThat(tree.at("/accesses/lost").asLong()).as("accesses on their way to a fenced end are answered")
                .isZero();
    }
}
