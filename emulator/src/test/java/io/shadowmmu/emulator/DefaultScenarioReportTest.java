package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The default scenario as the README's run command starts it, briefly and small: a clean oracle, every part of the
 * host busy, and a report whose page draws every chart in a real (headless) browser. Without a Chromium on this
 * machine the browser check is skipped (a JUnit assumption), the rest still runs.
 */
class DefaultScenarioReportTest {

    @TempDir
    static Path dir;
    static CliRun run;
    static JsonNode root;

    @BeforeAll
    static void runTheDefaultScenarioBriefly() throws Exception {
        run = CliRun.of("run", "--duration", "3s", "-q", "--report", dir.toString(),
                "--set", "mixed.working-set=1m", "--set", "mixed.strategy-pages=64", "--set",
                "mixed.strategy-rounds=1");
        root = new ObjectMapper().readTree(dir.resolve("result.json").toFile());
    }

    @Test
    void itIsTheMixedScenarioAndEndsWithACleanOracle() {
        assertThat(run.exit()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("mixed (seed 42)").contains("oracle: clean").contains("report: ");
        assertThat(root.path("scenario").asText()).isEqualTo("mixed");
        assertThat(root.path("oracle").path("clean").asBoolean()).as("oracle: %s", root.path("oracle")).isTrue();
        assertThat(root.path("oracle").path("events").asLong()).isPositive();
        assertThat(root.path("host").path("frames").path("leaked").asLong()).isZero();
    }

    @Test
    void itReportsAccessesPerSecondAndAProfileThatAddsUp() {
        long accesses = root.path("accesses").asLong();
        long nanos = root.path("runningNanos").asLong();
        assertThat(nanos).isPositive();
        assertThat(root.path("accessesPerSecond").asDouble())
                .isCloseTo(accesses * 1e9 / nanos, org.assertj.core.data.Percentage.withPercentage(0.01));
        assertThat(run.out()).contains("guest accesses/s over the").contains("time profile (");
        JsonNode profile = root.path("profile");
        assertThat(profile.path("samples").asLong()).as("profile: %s", profile).isPositive();
        assertThat(profile.path("threads").asInt()).isPositive();
        JsonNode shares = profile.path("sharePercent");
        double sum = 0;
        for (String c : java.util.List.of("oracle", "vcpu", "kvm", "hostmm", "pressure", "stressors", "gru",
                "other", "runtime", "idle")) {
            assertThat(shares.has(c)).as("share of %s in %s", c, shares).isTrue();
            assertThat(shares.path(c).asDouble()).isBetween(0.0, 100.0);
            sum += shares.path(c).asDouble();
        }
        assertThat(sum).isCloseTo(100.0, org.assertj.core.data.Offset.offset(0.01));
        // The guests ran for seconds: their own code shows in the samples.
        assertThat(shares.path("vcpu").asDouble()).as("shares %s", shares).isPositive();
    }

    @Test
    void theDurationBoundsTheWorkloadThenTheRunQuiesces() {
        assertThat(root.path("duration_ms").asLong()).isEqualTo(3000);
        // The workload stops at the bound; setup, quiescing and the audit come on top, never instead.
        assertThat(root.path("run_ms").asLong()).isBetween(3000L, 60_000L);
    }

    @Test
    void everyPartOfTheHostWasBusy() {
        JsonNode vms = root.path("vms");
        assertThat(vms).hasSize(3);
        for (JsonNode vm : vms) {
            assertThat(vm.path("accesses").asLong()).as(vm.path("name").asText()).isPositive();
        }
        assertThat(root.path("mode").asText()).isEqualTo("tdp+shadow");
        assertThat(root.path("kvm").path("guestPageTableWritesTrapped").asLong()).as("the shadow VM").isPositive();
        assertThat(root.path("gru").path("instructions").asLong()).isPositive();
        assertThat(root.path("gru").path("processes").asInt()).isEqualTo(2);
        assertThat(root.path("stressor").path("rounds").asLong()).isPositive();
        assertThat(root.path("host").path("migrations").asLong()).as("migration is on").isPositive();
        // Reclaim is on but only scans once free memory runs low, which a run this short may not reach.
        assertThat(root.path("host").path("reclaim").has("scanned")).as("reclaim is on").isTrue();
        assertThat(root.path("host").path("ksm").has("merged")).as("KSM is on").isTrue();
        assertThat(root.path("host").path("invalidations").asLong()).isPositive();
    }

    @Test
    void theTimeSeriesHaveASampleASecond() {
        JsonNode ts = root.path("timeseries");
        int samples = ts.path("seconds").size();
        assertThat(samples).isPositive();
        assertThat(ts.path("groups").path("throughput").path("guest accesses/s")).hasSize(samples);
        for (String vm : new String[] {"vm0", "vm1", "vm2"}) {
            assertThat(ts.path("groups").path("tlbHitRate").path(vm)).as(vm).hasSize(samples);
        }
        assertThat(ts.path("groups").path("events").path("violations")).hasSize(samples);
        assertThat(ts.path("groups").path("events").path("host invalidations/s")).hasSize(samples);
    }

    @Test
    void theAckHistogramAddsUpToTheAcks() {
        JsonNode latency = root.path("host").path("ackLatencyMicros");
        long sum = 0;
        for (JsonNode bucket : latency.path("histogram")) {
            sum += bucket.path("count").asLong();
        }
        assertThat(latency.path("count").asLong()).isPositive();
        assertThat(sum).isEqualTo(latency.path("count").asLong());
    }

    @Test
    void messagesPerInvalidatedPageAreMeasuredForEveryStrategy() {
        JsonNode rows = root.path("strategies");
        assertThat(rows).hasSize(5);
        double perPage = 0;
        double range = 0;
        for (JsonNode row : rows) {
            assertThat(row.path("messagesPerInvalidatedPage").asDouble()).as(row.path("strategy").asText())
                    .isPositive();
            if (row.path("strategy").asText().equals("PER_PAGE")) {
                perPage = row.path("messagesPerInvalidatedPage").asDouble();
            } else if (row.path("strategy").asText().equals("RANGE")) {
                range = row.path("messagesPerInvalidatedPage").asDouble();
            }
        }
        assertThat(perPage).as("one start per page against one per range").isGreaterThan(10 * range);
    }

    @Test
    void thePageIsSelfContained() throws Exception {
        String html = Files.readString(dir.resolve("index.html"), StandardCharsets.UTF_8);
        assertThat(html).doesNotContainPattern("<script[^>]+src=").doesNotContainPattern("<link[^>]+href=")
                .contains("Chart.js v4").containsPattern("\"scenario\"\\s*:\\s*\"mixed\"");
    }

    @Test
    void aHeadlessBrowserDrawsEveryChartWithoutAnError() throws Exception {
        Optional<Path> chromium = chromium();
        assumeTrue(chromium.isPresent(), "no Chromium (/usr/bin/chromium, chromium or google-chrome on PATH):"
                + " the page is not checked in a browser");
        Path profile = Files.createTempDirectory("chromium-profile");
        List<String> command = new ArrayList<>(List.of(chromium.get().toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
                "--virtual-time-budget=5000", "--dump-dom", dir.resolve("index.html").toUri().toString()));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] dom = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        Matcher body = Pattern.compile("<body([^>]*)>").matcher(new String(dom, StandardCharsets.UTF_8));
        assertThat(body.find()).as("the browser printed the page").isTrue();
        String attributes = body.group(1);
        assertThat(attribute(attributes, "data-errors")).isEqualTo("0");
        assertThat(attribute(attributes, "data-expected")).isEqualTo("5");
        assertThat(attribute(attributes, "data-charts")).isEqualTo("5");
    }

    private static String attribute(String attributes, String name) {
        Matcher m = Pattern.compile(name + "=\"([^\"]*)\"").matcher(attributes);
        return m.find() ? m.group(1) : null;
    }

    static Optional<Path> chromium() {
        Path usr = Path.of("/usr/bin/chromium");
        if (Files.isExecutable(usr)) {
            return Optional.of(usr);
        }
        for (String dirName : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
                Path candidate = Path.of(dirName, name);
                if (Files.isExecutable(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }
}
