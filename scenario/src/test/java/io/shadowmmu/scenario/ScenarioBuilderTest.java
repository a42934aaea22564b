package io.shadowmmu.scenario;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.shadowmmu.config.DeliveryStrategyKind;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.testkit.junit.KitOptions;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(ShadowTestKit.class)
@KitOptions(config = "akka.scheduler.tick-duration = 1ms\nakka.loglevel = WARNING")
class ScenarioBuilderTest {

    @Test
    void aHostWithTwoVmsAGruDeviceAndAStressorRunsClean(ActorTestKit kit) throws Exception {
        try (Scenario s = ScenarioBuilder.seed(42)
                .host(h -> h.memory("64m").strategy(DeliveryStrategyKind.GATHER))
                .vm("vm0", v -> v.tdp().vcpus(2).memory("8m").workload(WorkloadKind.MIXED, 20_000, 0.3, 1 << 20))
                .vm("vm1", v -> v.shadow().vcpus(2).memory("8m").workload(WorkloadKind.ZIPFIAN, 20_000, 0.3, 1 << 20))
                .gruDevice("gru0", g -> g.processes(2).instructions(20_000).region("256k").stressed())
                .stressor(st -> st.interval(Duration.ofMillis(2)).livePages(16))
                .oracle()
                .on(kit.system())
                .build()) {
            ScenarioOutcome o = s.run(Duration.ofMinutes(2));

            assertThat(o.vms()).extracting(VmStats::name).containsExactlyInAnyOrder("vm0", "vm1");
            assertThat(o.guestAccesses()).isEqualTo(40_000);
            assertThat(o.kvms()).hasSize(2);
            assertThat(o.stressors()).hasSize(2).allSatisfy(d -> assertThat(d.rounds()).isPositive());
            assertThat(o.gruProcesses()).extracting(GruProcess.Result::name).hasSize(2);
            assertThat(o.gruProcesses()).as("I1: the GRU users check their device reads against golden copies")
                    .allSatisfy(r -> {
                        assertThat(r.checkedReads()).isPositive();
                        assertThat(r.staleReads()).isZero();
                    });
            assertThat(o.deviceInstructions()).isEqualTo(20_000);
            assertThat(o.devices()).singleElement().satisfies(d -> assertThat(d.dropins()).isPositive());
            assertThat(o.audit().clean()).as("frame audit").isTrue();
            assertThat(s.oracle().eventsSeen()).isPositive();
            assertThat(s.oracle().violations()).isEmpty();
            assertThat(s.oracle().clean()).isTrue();
        }
    }

    @Test
    void theSameSeedOnItsOwnSystemWithABrokenProtocolIsCaught() throws Exception {
        try (Scenario s = ScenarioBuilder.seed(42)
                .set("variant", "free_before_ack")
                .host(h -> h.memory("64m"))
                .vm("vm0", v -> v.memory("8m").workload(WorkloadKind.UNIFORM, 30_000, 0.3, 1 << 20))
                .stressor(st -> st.livePages(32))
                .oracle()
                .build()) {
            s.run(Duration.ofMinutes(2));
            assertThat(s.oracle().count(Invariant.I3)).as("I3 violations").isPositive();
        }
    }

    @Test
    void aVmWithoutAProcessOrTwoPartsWithOneNameAreRefused() {
        assertThatThrownBy(() -> ScenarioBuilder.seed(1).vm("vm0", v -> v.tdp()).build())
                .hasMessageContaining("vm0").hasMessageContaining("no guest process");
        assertThatThrownBy(() -> ScenarioBuilder.seed(1)
                .vm("x", v -> v.workload(WorkloadKind.UNIFORM, 10, 0, 4096))
                .gruDevice("x", g -> g.processes(1)).build())
                .hasMessageContaining("two parts are named x");
        assertThatThrownBy(() -> ScenarioBuilder.seed(1).host(h -> h.memory("lots")).build())
                .hasMessageContaining("host.memory");
    }
}
