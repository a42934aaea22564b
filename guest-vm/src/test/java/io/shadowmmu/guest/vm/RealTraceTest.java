package io.shadowmmu.guest.vm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.testing.HostMachine;
import io.shadowmmu.guest.trace.LackeyTrace;
import io.shadowmmu.guest.trace.TraceStats;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Records {@code ls /} with Valgrind Lackey on this machine (skipped where valgrind is missing) and replays it. */
class RealTraceTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    @ParameterizedTest(name = "tdp={0}")
    @ValueSource(booleans = {true, false})
    void aFreshLsTraceReplaysWithDataTlbMissesApartFromFetches(boolean tdp, @TempDir Path dir) throws Exception {
        assumeTrue(new File("/usr/bin/valgrind").canExecute(), "valgrind not installed");
        Path trace = dir.resolve("t.lackey");
        Process p = new ProcessBuilder("/usr/bin/valgrind", "--tool=lackey", "--trace-mem=yes",
                "--log-file=" + trace, "ls", "/").redirectErrorStream(true)
                .redirectOutput(dir.resolve("out.txt").toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assumeTrue(p.exitValue() == 0 && Files.size(trace) > 0, "valgrind could not trace ls");

        // 64-entry fully associative LRU TLBs on 4 KiB pages, on kvm-shadow's KvmMmu over a real host mm.
        HostMachine m = HostMachine.start(kit.testKit(), tdp, Map.of("host.memory", "64m", "guest.memory", "16m",
                "guest.vcpus", "1", "guest.tlb.entries", "64", "guest.tlb.ways", "64"));
        var vm = m.vm();
        try (LackeyTrace t = LackeyTrace.open(trace)) {
            TestProbe<GuestVm.Spawned> spawned = kit.createTestProbe();
            vm.tell(new GuestVm.Spawn("ls", List.of(new GuestVma(0, 1L << 47, true)), t, spawned.ref()));
            spawned.receiveMessage();
            TestProbe<VmStats> out = kit.createTestProbe();
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
            assertThat(m.events().violations).isEmpty();
        }
    }
}
