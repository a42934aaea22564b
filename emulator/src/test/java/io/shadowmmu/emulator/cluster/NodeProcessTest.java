package io.shadowmmu.emulator.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.javadsl.AskPattern;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.Main;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The importer's node is a separate JVM ({@code shadowmmu node --import ...}) that is killed (destroyForcibly) while
 * an invalidation waits for its ack. The exporter's node, in this JVM with a third node for the majority, sees it
 * go silent: the failure detector marks it unreachable, the split-brain resolver downs it, the attachment is
 * fenced, the frames are freed, and the oracle stays clean, well before the ack deadline.
 */
class NodeProcessTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final long PAGE = 4096;

    @Test
    void killingTheImportersJvmMidInvalidationFencesItAndFreesTheFrames() throws Exception {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "16m", "reclaim.enabled", "off"));
        Duration deadline = Duration.ofSeconds(40);
        ClusterSettings cs = ClusterSettings.read(settings).withAckDeadline(deadline);
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        ClusterNode a = ClusterNode.start(NodeOptions.loopback(0, List.of()), settings, cs, oracle);
        ClusterNode c = ClusterNode.start(NodeOptions.loopback(0, List.of()), settings, cs,
                new CoherenceOracle(settings.oracle()));
        Process child = null;
        try {
            a.joinSelf();
            c.join(a);
            TestProbe<Object> probe = TestProbe.create(a.system());
            awaitTrue(probe, () -> a.seesUp(2) && c.seesUp(2), "a and c up");

            HostCommand.ProcessSpawned p = ask(a, a.hostActor(), r -> new HostCommand.SpawnProcess("exporter", r));
            MmResult mapped = ask(a, p.process(), r -> MmCommand.Mmap.anonymous(4 * PAGE, Protection.READ_WRITE, r));
            long start = ((MmResult.Done) mapped).value();
            for (int page = 0; page < 4; page++) {
                long va = start + page * PAGE;
                long value = 100 + page;
                MmResult written = ask(a, p.process(), r -> new MmCommand.Access(va, true, value, r));
                assertThat(written).isInstanceOf(MmResult.Done.class);
            }
            Exporter.Exported seg = ask(a, a.exporter(),
                    r -> new Exporter.Export(p.process(), p.mm(), start, 4 * PAGE, true, r));

            // The importer's node: a child JVM running the CLI, importing the segment and reading every page.
            String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            ProcessBuilder pb = new ProcessBuilder(javaBinary(), "-Xmx256m", "-cp", classPath,
                    Main.class.getName(), "node", "--port", "0", "--seed-nodes", a.hostPort(),
                    "--import", seg.segment() + "@" + a.hostPort(), "--import-ack-delay", "10m")
                    .redirectErrorStream(true);
            child = pb.start();
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
            assertThat(awaitLine(lines, "node up")).contains("@127.0.0.1:"); // loopback unless told otherwise
            String imported = awaitLine(lines, "imported segment");
            assertThat(imported).contains("4 pages").contains("[100, 101, 102, 103]");
            awaitTrue(probe, () -> a.seesUp(3), "the child node is up");

            // Invalidate two pages: the child holds them and will not ack for ten minutes.
            TestProbe<MmResult> reply = TestProbe.create(a.system());
            p.process().tell(new MmCommand.MadviseDontneed(start, 2 * PAGE, reply.getRef()));
            awaitTrue(probe, () -> a.counters().invalidationsSent.get() >= 1, "the invalidation went out");
            reply.expectNoMessage(Duration.ofMillis(300));

            long killed = System.nanoTime();
            child.destroyForcibly();
            MmResult r = reply.receiveMessage(deadline);
            Duration took = Duration.ofNanos(System.nanoTime() - killed);
            assertThat(r).isInstanceOf(MmResult.Done.class);
            assertThat(took).isLessThan(Duration.ofSeconds(25));
            assertThat(a.counters().fencedByNodeLoss.get()).isEqualTo(1);
            assertThat(a.counters().fencedByDeadline.get()).isZero();
            HostCommand.AuditReport audit = ask(a, a.hostActor(), HostCommand.Audit::new);
            assertThat(audit.problems()).isEmpty();
            assertThat(oracle.violations()).isEmpty();
            awaitTrue(probe, () -> a.seesUp(2), "the dead node was removed");
        } finally {
            if (child != null) {
                child.destroyForcibly();
                child.waitFor(10, TimeUnit.SECONDS);
            }
            c.close();
            a.close();
            a.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            c.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static String javaBinary() {
        return System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    }

    private static <T, R> R ask(ClusterNode n, akka.actor.typed.ActorRef<T> to,
                                akka.japi.function.Function<akka.actor.typed.ActorRef<R>, T> message)
            throws Exception {
        return AskPattern.ask(to, message, WAIT, n.system().scheduler()).toCompletableFuture()
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static String awaitLine(BlockingQueue<String> lines, String prefix) throws InterruptedException {
        List<String> seen = new ArrayList<>();
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            String line = lines.poll(500, TimeUnit.MILLISECONDS);
            if (line != null) {
                seen.add(line);
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
        }
        throw new AssertionError("the child node never printed '" + prefix + "'; it printed: " + seen);
    }

    private static void awaitTrue(TestProbe<Object> probe, java.util.function.BooleanSupplier condition,
                                  String what) {
        probe.awaitAssert(WAIT, Duration.ofMillis(100), () -> {
            assertThat(condition.getAsBoolean()).as(what).isTrue();
            return null;
        });
    }
}
