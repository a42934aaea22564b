package io.shadowmmu.emulator.churn;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

import java.time.Duration;

/** Settings of the host-churn scenario ({@code shadowmmu.churn}). */
record ChurnSettings(int processes, int maxProcesses, Duration slowAckDelay, int maxRegions, int maxRegionPages,
                     int filePages, long defaultOps) {
    static ChurnSettings read(Settings settings) {
        ConfigReader r = settings.reader().section("churn");
        int processes = r.intBetween("processes", 1, 256);
        int max = r.intBetween("max-processes", 1, 1024);
        if (max < processes) {
            throw r.fail("max-processes", "must be at least churn.processes (" + processes + ")");
        }
        return new ChurnSettings(processes, max,
                r.duration("slow-ack-delay", Duration.ZERO, Duration.ofMinutes(1)),
                r.intBetween("max-regions", 1, 1024),
                r.intBetween("max-region-pages", 1, 1 << 20),
                r.intBetween("file-pages", 1, 1 << 20),
                r.longAtLeast("default-ops", 1));
    }
}
