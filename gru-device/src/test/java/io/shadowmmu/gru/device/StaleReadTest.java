package io.shadowmmu.gru.device;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.scenario.GruStressor;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * I1 for GRU users: a process checks every device read against its golden copy while the host discards and maps
 * its memory again. A correct device is clean; one that loses its range flushes keeps serving reads from entries
 * over freed frames, and the process reports the stale data.
 */
class StaleReadTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static final Map<String, String> SMALL = Map.of("gru.region", "32k", "gru.stress-pages", "4",
            "gru.load-percent", "50", "gru.store-percent", "50", "gru.tlb.entries", "64", "gru.tlb.ways", "4");

    private record Run(GruProcess.Result result, List<String> violations) {
    }

    private Run run(boolean broken) {
        GruHost h = new GruHost(kit.testKit(), SMALL);
        GruSettings gru = h.gru();
        ActorRef<GruCommand> device = kit.spawn(broken ? GruDevice.losingRangeFlushes("gru-lossy", gru,
                h.host.memory()) : GruDevice.create("gru-ok", gru, h.host.memory()));
        HostCommand.ProcessSpawned proc = h.spawn("user");
        long start = h.mmapAnon(proc.process(), gru.regionBytes());
        Range region = new Range(start, start + gru.regionBytes());
        TestProbe<GruProcess.Result> done = kit.createTestProbe();
        ActorRef<GruProcess.Command> user = kit.spawn(GruProcess.create(device, proc.process(), proc.mm(), "user",
                List.of(region), gru, 11, 40_000, () -> false, h.host.memory().events(), done.getRef()));
        ActorRef<GruStressor.Command> stressor = kit.spawn(GruStressor.create(
                List.of(new GruStressor.Target(proc.process(), region, user)), gru.stressPages(), 5));
        GruProcess.Result r = done.receiveMessage(Duration.ofSeconds(30));
        TestProbe<GruStressor.Counts> stopped = kit.createTestProbe();
        stressor.tell(new GruStressor.Stop(stopped.getRef()));
        GruStressor.Counts counts = stopped.receiveMessage(Duration.ofSeconds(10));
        assertThat(counts.munmaps() + counts.dontneeds()).as("the host discarded memory under the device")
                .isPositive();
        return new Run(r, h.violations.seen);
    }

    @Test
    void aCorrectDeviceServesNoStaleRead() {
        Run ok = run(false);
        assertThat(ok.result().checkedReads()).isPositive();
        assertThat(ok.result().staleReads()).isZero();
        assertThat(ok.violations()).isEmpty();
    }

    @Test
    void aDeviceThatLosesItsRangeFlushesIsCaughtReadingStaleData() {
        // Whether a discard lands while the device still has work to do on that page is up to the scheduler (the
        // stressor runs beside the user), so one run may end before a kept entry is read again. A fresh run is
        // independent; the lossy device must be caught within a few of them, each one checked in full.
        Run lossy = run(true);
        for (int attempt = 1; attempt < 4 && lossy.result().staleReads() == 0; attempt++) {
            lossy = run(true);
        }
        assertThat(lossy.result().staleReads()).as("stale reads of the lossy device within 4 runs").isPositive();
        assertThat(lossy.violations()).anySatisfy(v -> assertThat(v).startsWith("I1 ").contains("user (mm")
                .contains("no longer maps"));
    }
}
