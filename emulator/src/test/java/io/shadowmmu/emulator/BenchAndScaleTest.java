package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bench} in its smoke configuration (every row for a fraction of a second: it checks the machinery and the
 * report, never a figure) and the {@code scale} scenario at a tiny size.
 */
class BenchAndScaleTest {

    private static final String[] ROWS = {"tlbHit", "faultRoundTrip", "zeroSubscriberOverhead", "deliveryAtomic",
        "deliverySleeping"};

    @Test
    void everyBenchRowHasFinitePositiveFiguresATargetAndAVerdict(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("b.json");
        CliRun r = CliRun.of("bench", "--smoke", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        for (String key : ROWS) {
            JsonNode row = root.path(key);
            assertThat(row.isObject()).as(key).isTrue();
            for (String figure : new String[] {"ours", "baseline", "ratio", "minRatio"}) {
                double v = row.path(figure).asDouble(Double.NaN);
                assertThat(Double.isFinite(v) && v > 0).as("%s.%s = %s", key, figure, v).isTrue();
            }
            assertThat(row.path("ratio").asDouble()).isEqualTo(row.path("ours").asDouble()
                    / row.path("baseline").asDouble(), org.assertj.core.data.Offset.offset(
                            key.equals("tlbHit") ? 1e-9 : 1e9));
            assertThat(row.path("met").isBoolean()).as(key + ".met").isTrue();
            assertThat(row.path("met").asBoolean()).isEqualTo(row.path("ratio").asDouble()
                    >= row.path("minRatio").asDouble());
            assertThat(row.path("target").asText()).isNotBlank();
            assertThat(r.out()).contains(key);
        }
        assertThat(root.path("cores").asInt()).isPositive();
        assertThat(root.path("smoke").asBoolean()).isTrue();
    }

    @Test
    void scaleRunsEachStepAndReportsCostPerAccess(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("s.json");
        CliRun r = CliRun.of("run", "--scenario", "scale", "--ops", "40000", "-q", "--set", "scale.vm-counts=[2,6]",
                "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        JsonNode steps = root.path("scale").path("steps");
        assertThat(steps).hasSize(2);
        assertThat(steps.get(0).path("vms").asInt()).isEqualTo(2);
        assertThat(steps.get(1).path("vms").asInt()).isEqualTo(6);
        for (JsonNode s : steps) {
            assertThat(s.path("accesses").asLong()).isBetween(39_990L, 40_000L);
            assertThat(s.path("nsPerAccess").asDouble()).isPositive();
            assertThat(s.path("accessesPerSecond").asDouble()).isPositive();
            assertThat(s.path("faults").asLong()).isPositive();
            assertThat(s.path("heapPeakBytes").asLong()).isPositive();
            assertThat(s.path("framesLeaked").asLong()).isZero();
        }
        assertThat(steps.get(0).path("costVsFirstStep").asDouble()).isEqualTo(1.0);
        assertThat(r.out()).contains("6 VMs");
    }

    @Test
    void aBadVmCountListIsNamed() {
        CliRun r = CliRun.of("run", "--scenario", "scale", "-q", "--set", "scale.vm-counts=[10,lots]");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("scale.vm-counts");
    }
}
