package io.shadowmmu.emulator.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.Main;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * VMs placed by sharding across two JVMs: this one and a child running {@code shadowmmu node --host-vms
 * --touch-vms 6}. The child sees its VMs on both nodes; when the child is killed, the VMs start again here.
 */
class VmNodeProcessTest {
    private static final Duration WAIT = Duration.ofSeconds(40);
    private static final int VMS = 6;

    @Test
    void vmsRunOnBothJvmsAndMoveHereWhenTheChildDies() throws Exception {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "16m", "reclaim.enabled", "off"));
        ClusterSettings cs = ClusterSettings.read(settings);
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        ClusterNode a = ClusterNode.start(NodeOptions.loopback(0, List.of()), settings, cs, oracle);
        Process child = null;
        try {
            a.joinSelf();
            VmSharding.init(a, 8);
            // keep-majority breaks the one-against-one tie by keeping the lowest address: the child gets a higher
            // port, so when it dies this node stays (and does not down itself).
            int childPort = freePortAbove(Integer.parseInt(a.hostPort().substring(a.hostPort().lastIndexOf(':') + 1)));
            String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            child = new ProcessBuilder(System.getProperty("java.home") + File.separator + "bin" + File.separator
                    + "java", "-Xmx256m", "-cp", classPath, Main.class.getName(), "node", "--port", Integer.toString(childPort),
                    "--seed-nodes", a.hostPort(), "--host-vms", "--await-members", "2", "--touch-vms",
                    Integer.toString(VMS), "--set", "host.memory=16m").redirectErrorStream(true).start();
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Process running = child;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(running.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (java.io.IOException ignored) {
                    // the child was killed
                }
            }, "child-node-output");
            reader.setDaemon(true);
            reader.start();
            String up = awaitLine(lines, "node up");
            String childAt = up.substring(up.indexOf('@') + 1).split(" ")[0];
            Set<String> hosts = new HashSet<>();
            for (int v = 0; v < VMS; v++) {
                String line = awaitLine(lines, "vm vm-");
                assertThat(line).as(line).doesNotContain("error").endsWith(" read " + (1000 + v));
                hosts.add(line.substring(line.indexOf(" on ") + 4, line.indexOf(" read ")));
            }
            assertThat(hosts).as("VMs on both JVMs").contains(a.hostPort(), childAt);

            child.destroyForcibly();
            TestProbe<VmEntity.Touched> touched = TestProbe.create(a.system());
            touched.awaitAssert(Duration.ofSeconds(60), Duration.ofMillis(500), () -> {
                assertThat(a.seesUp(1)).as("the child was downed and removed").isTrue();
                return null;
            });
            for (int v = 0; v < VMS; v++) {
                String vm = "vm-" + v;
                // Sharding delivers at most once: a touch routed to the dead node's region before the coordinator
                // saw it terminate is lost, so ask again until the VM answers from here.
                touched.awaitAssert(WAIT, Duration.ofMillis(100), () -> {
                    VmSharding.vm(a, vm).tell(new VmEntity.Touch(1, 0, false, 0, touched.getRef()));
                    VmEntity.Touched t = touched.receiveMessage(Duration.ofSeconds(3));
                    assertThat(t.error()).isNull();
                    assertThat(t.node()).isEqualTo(a.hostPort());
                    return null;
                });
            }
            assertThat(oracle.violations()).isEmpty();
        } finally {
            if (child != null) {
                child.destroyForcibly();
                child.waitFor(10, TimeUnit.SECONDS);
            }
            a.close();
            a.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static int freePortAbove(int port) throws java.io.IOException {
        for (int p = port + 1; p < 65_536; p++) {
            try (java.net.ServerSocket s = new java.net.ServerSocket(p, 1, java.net.InetAddress.getLoopbackAddress())) {
                return p;
            } catch (java.net.BindException taken) {
                // next one
            }
        }
        throw new java.io.IOException("no free port above " + port);
    }

    private static String awaitLine(BlockingQueue<String> lines, String prefix) throws InterruptedException {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            String line = lines.poll(200, TimeUnit.MILLISECONDS);
            if (line != null && line.startsWith(prefix)) {
                return line;
            }
        }
        throw new AssertionError("no line starting with '" + prefix + "' within " + WAIT);
    }
}
