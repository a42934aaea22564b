package io.shadowmmu.emulator.cluster;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

import java.time.Duration;

/** Settings of the cluster scenario ({@code shadowmmu.cluster.scenario}). */
record ClusterScenarioSettings(int nodes, int processesPerNode, int segmentPages, ImportMode importMode,
                               int blockPages, int window, double writeFraction,
                               Duration ackDeadline, Duration slowAckDelay, int slowEvery,
                               Duration sleepyAckDelay,
                               int churnersPerProcess, Duration churnInterval,
                               long defaultOps) {
    /** How the importers map the segments: by ranges into local copies, or one message per 8-byte access. */
    enum ImportMode {
        COPY, PER_WORD
    }

    static ClusterScenarioSettings read(Settings settings) {
        ConfigReader r = settings.reader().section("cluster.scenario");
        int percent;
        try {
            percent = (int) Math.round(Double.parseDouble(r.raw("write-fraction")) * 100);
        } catch (NumberFormatException e) {
            throw r.fail("write-fraction", "must be a number in [0, 1]");
        }
        if (percent < 0 || percent > 100) {
            throw r.fail("write-fraction", "must be in [0, 1]");
        }
        return new ClusterScenarioSettings(
                r.intBetween("nodes", 2, 9),
                r.intBetween("processes-per-node", 1, 64),
                r.intBetween("segment-pages", 1, 1 << 16),
                r.enumValue("import-mode", ImportMode.class),
                r.intBetween("block-pages", 1, 1 << 16),
                r.intBetween("window", 1, 1024),
                percent / 100.0,
                r.duration("ack-deadline", Duration.ofMillis(1), Duration.ofMinutes(1)),
                r.duration("slow-ack-delay", Duration.ZERO, Duration.ofMinutes(1)),
                r.intBetween("slow-every", 1, 1_000_000),
                r.duration("sleepy-ack-delay", Duration.ZERO, Duration.ofMinutes(1)),
                r.intBetween("churners-per-process", 1, 16),
                r.duration("churn-interval", Duration.ZERO, Duration.ofMinutes(1)),
                r.longAtLeast("default-ops", 1));
    }
}
