package io.shadowmmu.guest.vm;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.FakeKvm;
import io.shadowmmu.guest.testing.RecordingEvents;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.trace.LackeyTrace;
import io.shadowmmu.guest.trace.TraceStats;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Records {@code ls /} with Valgrind Lackey on this machine (skipped where valgrind is missing) and replays it. */
class RealTraceTest {
    private static ActorTestKit testKit;

    @BeforeAll
    static void setup() {
        testKit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING")
                .withFallback(ConfigFactory.load()));
    }

    @AfterAll
    static void teardown() {
        testKit.shutdownTestKit();
    }

    @Test
    void aFreshLsTraceReplaysWithDataTlbMissesApartFromFetches(@TempDir Path dir) throws Exception {
        assumeTrue(new File("/usr/bin/valgrind").canExecute(), "valgrind not installed");
        Path trace = dir.resolve("t.lackey");
        Process p = new ProcessBuilder("/usr/bin/valgrind", "--tool=lackey", "--trace-mem=yes",
                "--log-file=" + trace, "ls", "/").redirectErrorStream(true)
                .redirectOutput(dir.resolve("out.txt").toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assumeTrue(p.exitValue() == 0 && Files.size(trace) > 0, "valgrind could not trace ls");

        RecordingEvents events = new RecordingEvents();
        PhysicalMemory memory = new PhysicalMemory(8192, ContentMode.FULL, true, events);
        FakeKvm kvm = new FakeKvm(memory, 4096, true);
        GuestVm.Config c = new GuestVm.Config("trace", AgentIds.next(), kvm, memory, events, 1,
                TlbGeometry.fullyAssociative(64), 10_000, 33, true);
        var vm = testKit.spawn(GuestVm.create(c));
        try (LackeyTrace t = LackeyTrace.open(trace)) {
            TestProbe<GuestVm.Spawned> spawned = testKit.createTestProbe();
            vm.tell(new GuestVm.Spawn("ls", List.of(new GuestVma(0, 1L << 47, true)), t, spawned.ref()));
            spawned.receiveMessage();
            TestProbe<VmStats> out = testKit.createTestProbe();
            vm.tell(new GuestVm.Run(out.ref()));
            VmStats s = out.expectMessageClass(VmStats.class, Duration.ofSeconds(60));
            TraceStats ts = t.stats();
            assertThat(ts.instructionFetches()).isGreaterThan(100_000);
            // A fetch crossing a page boundary touches both pages: counted once per page by the vCPU.
            assertThat(s.total().fetches()).isBetween(ts.instructionFetches(),
                    ts.instructionFetches() + ts.pageSpanning());
            assertThat(s.accesses()).isEqualTo(ts.accesses() + ts.pageSpanning());
            assertThat(s.total().tlb().misses()).isPositive();
            assertThat(s.total().itlb().misses()).isPositive();
            assertThat(s.total().tlb().hits() + s.total().tlb().misses())
                    .isGreaterThanOrEqualTo(ts.dataAccesses());
            assertThat(s.i1Violations()).isZero();
            assertThat(s.total().guestFaults()).isZero();
        }
    }
}
