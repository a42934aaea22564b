package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;

/** Short runs of the VM scenarios through the command line. */
class VmScenariosTest {

    @ParameterizedTest
    @ValueSource(strings = {"vm-tdp", "vm-shadow"})
    void vmsUnderHostStressAreCleanAndInvalidationsHitLiveSptes(String scenario, @TempDir Path dir)
            throws Exception {
        Path json = dir.resolve("vm.json");
        CliRun r = CliRun.of("run", "--scenario", scenario, "--ops", "200000", "-q", "--set", "vm-scenario.vms=2",
                "--set", "guest.memory=8m", "--set", "host.memory=64m", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        assertThat(root.path("vms")).hasSize(2);
        JsonNode vm = root.path("vms").get(0);
        for (String key : new String[] {"accesses", "faults", "retries", "flushes"}) {
            assertThat(vm.has(key)).as(key).isTrue();
        }
        assertThat(vm.path("tlb").path("hits").asLong()).isPositive();
        assertThat(root.path("kvm").path("invalidationsHitLive").asLong()).isPositive();
        assertThat(root.path("oracle").path("violations").path("I1").asLong()).isZero();
        assertThat(root.path("host").path("frames").path("leaked").asLong()).isZero();
    }

    @Test
    void aLackeyTraceReplaysWithInstructionFetchesApartFromData(@TempDir Path dir) throws Exception {
        Path trace = Paths.get(getClass().getResource("/ls.lackey").toURI());
        Path json = dir.resolve("t.json");
        CliRun r = CliRun.of("run", "--scenario", "trace", "--file", trace.toString(), "-q", "--set",
                "guest.tlb.entries=64", "--set", "guest.tlb.ways=64", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        long fetches = root.path("trace").path("instructionFetches").asLong();
        assertThat(fetches).isPositive();
        JsonNode vm = root.path("vms").get(0);
        assertThat(vm.path("itlb").path("hits").asLong() + vm.path("itlb").path("misses").asLong())
                .as("instruction TLB lookups").isPositive();
        assertThat(vm.path("tlb").path("misses").asLong()).isPositive();
        assertThat(r.out()).contains("instruction TLB").contains("data TLB");
    }

    @Test
    void aMalformedTraceLineIsNamedAndNothingRuns(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.lackey");
        Files.writeString(bad, "I  0400000,4\n L 0400010,8\n S zz,4\n");
        CliRun r = CliRun.of("run", "--scenario", "trace", "--file", bad.toString(), "-q");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("line 3").contains("zz");
        assertThat(CliRun.of("run", "--scenario", "trace", "-q").err()).contains("needs --file");
    }

    @Test
    void gruDevicesUnderHostStressAreCleanAndFlushAndDropIn(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("g.json");
        CliRun r = CliRun.of("run", "--scenario", "gru", "--ops", "200000", "-q", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        JsonNode gru = root.path("gru");
        for (String key : new String[] {"devices", "contexts", "hits", "misses", "dropins", "dropinFailures",
            "flushes", "entriesFlushed", "handleWaits"}) {
            assertThat(gru.has(key)).as("gru.%s", key).isTrue();
        }
        assertThat(gru.path("dropins").asLong()).isPositive();
        assertThat(gru.path("flushes").asLong()).isPositive();
        assertThat(root.path("host").path("frames").path("leaked").asLong()).isZero();
    }

    @Test
    void overcommittedVmsSwapMigrateMergeAndStayClean(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("o.json");
        CliRun r = CliRun.of("run", "--scenario", "overcommit", "--ops", "600000", "-q", "--set", "vm-scenario.vms=2",
                "--set", "guest.memory=8m", "--set", "vm-scenario.working-set=2m", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        JsonNode reclaim = root.path("host").path("reclaim");
        assertThat(reclaim.path("swappedOut").asLong()).isPositive();
        assertThat(reclaim.path("swappedIn").asLong()).isPositive();
        assertThat(root.path("host").path("migrations").asLong()).isPositive();
        assertThat(root.path("host").path("frames").path("leaked").asLong()).isZero();
    }

    @Test
    void strategiesCostWhatTheirDesignSays(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("s.json");
        CliRun r = CliRun.of("run", "--scenario", "strategies", "--ops", "3", "-q", "--json", json.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        java.util.Map<String, Double> starts = new java.util.HashMap<>();
        for (JsonNode row : root.path("strategies")) {
            starts.put(row.path("strategy").asText(), row.path("startsPerMunmap").asDouble());
        }
        assertThat(starts.get("PER_PAGE")).isEqualTo(1024.0);
        assertThat(starts.get("PER_PT_PAGE")).isEqualTo(2.0);
        assertThat(starts.get("RANGE")).isEqualTo(1.0);
        assertThat(starts.get("GATHER")).isEqualTo(1.0);
        assertThat(starts.get("TWO_PHASE")).isEqualTo(1.0);
    }
}
