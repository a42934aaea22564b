package io.shadowmmu.emulator.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TimeProfileTest {

    @Test
    void projectClassesAreChargedToTheirAgentClassByPackage() {
        assertThat(TimeProfile.ofClass("io.shadowmmu.scenario.oracle.CoherenceOracle")).isEqualTo("oracle");
        assertThat(TimeProfile.ofClass("io.shadowmmu.scenario.oracle.CoherenceOracle")).isEqualTo("oracle");
        assertThat(TimeProfile.ofClass("io.shadowmmu.guest.vcpu.Vcpu")).isEqualTo("vcpu");
        assertThat(TimeProfile.ofClass("io.shadowmmu.guest.kvm.KvmPort")).isEqualTo("kvm");
        assertThat(TimeProfile.ofClass("io.shadowmmu.kvm.KvmMmu")).isEqualTo("kvm");
        assertThat(TimeProfile.ofClass("io.shadowmmu.hostmm.mm.MmActor")).isEqualTo("hostmm");
        assertThat(TimeProfile.ofClass("io.shadowmmu.hostmm.pressure.Reclaim")).isEqualTo("pressure");
        assertThat(TimeProfile.ofClass("io.shadowmmu.emulator.vm.HostStressor$1")).isEqualTo("stressors");
        assertThat(TimeProfile.ofClass("io.shadowmmu.gru.device.GruDevice")).isEqualTo("gru");
        assertThat(TimeProfile.ofClass("io.shadowmmu.emulator.vm.MixedCoordinator")).isEqualTo("other");
        for (String c : new String[] {"oracle", "vcpu", "kvm", "hostmm", "pressure", "stressors", "gru", "other"}) {
            assertThat(TimeProfile.CLASSES).contains(c);
        }
    }

    @Test
    void theSummaryLineListsTheBusiestClassFirst() {
        Map<String, Object> shares = new LinkedHashMap<>();
        shares.put("vcpu", 10.0);
        shares.put("idle", 60.0);
        shares.put("hostmm", 30.0);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("samples", 100L);
        p.put("threads", 2);
        p.put("dispatcherCpuMs", 5L);
        p.put("sharePercent", shares);
        assertThat(TimeProfile.line(p)).endsWith("idle 60.0% hostmm 30.0% vcpu 10.0%");
    }
}
