package io.shadowmmu.emulator.cluster;

import io.shadowmmu.emulator.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Bad arguments of {@code node} are one line naming the option, exit code 2, and no node is started. */
class NodeCommandTest {

    private static String[] runErr(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute(args);
        } finally {
            System.setErr(old);
        }
        return new String[] {Integer.toString(exit), err.toString(StandardCharsets.UTF_8).strip()};
    }

    @Test
    void aMalformedImportIsNamed() {
        String[] r = runErr("node", "--import", "seven@localhost");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[1]).isEqualTo("shadowmmu node: --import seven@localhost: expected SEGMENT@HOST:PORT,"
                + " e.g. 1@127.0.0.1:2551");
    }

    @Test
    void tlsNeedsBothStoresAndThePassword() {
        String[] r = runErr("node", "--tls-keystore", "k.p12");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[1]).contains("--tls-keystore, --tls-truststore and --tls-password go together");
    }

    @Test
    void aBadClusterSettingIsNamed() {
        String[] r = runErr("node", "--set", "cluster.ack-deadline=0ms");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[1]).startsWith("shadowmmu node: cluster.ack-deadline = 0ms");
    }

    @Test
    void helpListsTheOptions() {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            Main.commandLine().execute("node", "--help");
        } finally {
            System.setOut(old);
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("--port").contains("--seed-nodes")
                .contains("--import").contains("--tls-keystore");
    }
}
