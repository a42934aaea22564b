package io.shadowmmu.emulator.cluster;

import io.shadowmmu.emulator.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code node --host-gru --touch-gru N}: one node forms a cluster, hosts GRU devices, runs a checked job on each. */
class NodeGruTest {

    @Test
    void aNodeHostsGruDevicesAndRunsACheckedJobOnEach() {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute("node", "--port", "0", "--host-gru", "--touch-gru", "2", "--run-for",
                    "1", "--set", "cluster.vms-scenario.gru-instructions=500");
        } finally {
            System.setOut(old);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(printed).isZero();
        assertThat(printed).contains("hosting GRU devices");
        List<String> jobs = printed.lines().filter(l -> l.startsWith("gru ")).toList();
        assertThat(jobs).as(printed).hasSize(2);
        for (String line : jobs) {
            assertThat(line).contains(" ran 500 instructions").endsWith(" 0 stale").doesNotContain("error");
        }
    }
}
