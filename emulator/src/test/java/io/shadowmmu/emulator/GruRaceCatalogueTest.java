package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * REGISTER_UNQUIESCED in the gru scenario (D54): with the variant the scenario fills in a RANGE strategy, context
 * churn and a slow-ack subscriber, so devices re-register while invalidations are in flight; the broken hand-over is
 * caught as I3 within a bounded run (seeds and device instructions below), and the same run with the correct
 * protocol is clean.
 */
class GruRaceCatalogueTest {

    /**
     * Device instructions of each run (as in the README's acceptance run), and the seeds tried in turn until one
     * catches the race. With slow acks each process has its own stressor, so the run is paced by the invalidations
     * rather than by how fast the JVM runs instructions: dozens of churns per run.
     */
    private static final long OPS = 60_000;
    private static final long[] SEEDS = {7, 11, 23};

    /** The conditions the variant fills in, for the correct run. */
    private static final String[] CONDITIONS = {"--set", "notifier.strategy=range", "--set", "gru.context-churn=1",
        "--set", "gru.slow-ack=10ms"};

    private static CliRun cli(Path json, long seed, String... extra) {
        String[] base = {"run", "--scenario", "gru", "-q", "--ops", Long.toString(OPS), "--seed", Long.toString(seed),
            "--json", json.toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliRun.of(args);
    }

    private static JsonNode verdict(CliRun r, Path json) throws Exception {
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        boolean clean = root.path("oracle").path("clean").asBoolean();
        assertThat(r.exit()).as("exit code follows the verdict: " + r.err()).isEqualTo(clean ? 0 : 1);
        return root;
    }

    @Test
    void registerUnquiescedIsCaughtAsI3AndTheCorrectProtocolIsClean(@TempDir Path dir) throws Exception {
        long caughtWith = -1;
        StringBuilder tried = new StringBuilder();
        for (long seed : SEEDS) {
            Path json = dir.resolve("broken-" + seed + ".json");
            CliRun r = cli(json, seed, "--variant", "register_unquiesced");
            JsonNode broken = verdict(r, json);
            assertThat(r.out()).as("the filled-in conditions are said")
                    .contains("register_unquiesced: set notifier.strategy=range, gru.context-churn=1,"
                            + " gru.slow-ack=10ms");
            assertThat(broken.path("notifier").path("strategy").asText()).isEqualTo("RANGE");
            assertThat(broken.path("gru").path("slowAcks").asLong()).as("invalidations held open").isPositive();
            tried.append(String.format("%n  seed %d: %d slow acks, %d churns, I3 %d, %d ms", seed,
                    broken.path("gru").path("slowAcks").asLong(), broken.path("gru").path("churns").asLong(),
                    broken.path("oracle").path("violations").path("I3").asLong(), broken.path("elapsed_ms").asLong()));
            if (broken.path("oracle").path("violations").path("I3").asLong() > 0) {
                Stories.assertSomeStoryTells(broken, "I3");
                caughtWith = seed;
                break;
            }
        }
        assertThat(caughtWith).as("I3 caught within %,d device instructions with one of the seeds:%s", OPS, tried)
                .isNotNegative();

        Path json = dir.resolve("correct.json");
        JsonNode correct = verdict(cli(json, caughtWith, CONDITIONS), json);
        assertThat(correct.path("oracle").path("clean").asBoolean())
                .as("the correct protocol: %s", correct.path("oracle")).isTrue();
        assertThat(correct.path("gru").path("slowAcks").asLong()).isPositive();
        assertThat(correct.path("gru").path("registrations").asLong())
                .isEqualTo(correct.path("gru").path("processes").asLong()
                        + correct.path("gru").path("churns").asLong());
        assertThat(correct.path("host").path("frames").path("leaked").asLong()).isZero();
    }

    @Test
    void aConditionTheUserSetWithoutTheWindowIsRefusedRatherThanRunClean() {
        CliRun gather = CliRun.of("run", "--scenario", "gru", "-q", "--ops", "1000", "--variant",
                "register_unquiesced", "--set", "notifier.strategy=gather");
        assertThat(gather.exit()).isEqualTo(2);
        assertThat(gather.err()).contains("notifier.strategy").contains("must be range");
        CliRun noChurn = CliRun.of("run", "--scenario", "gru", "-q", "--ops", "1000", "--variant",
                "register_unquiesced", "--set", "gru.context-churn=0");
        assertThat(noChurn.exit()).isEqualTo(2);
        assertThat(noChurn.err()).contains("gru.context-churn").contains("must be positive");
    }
}
