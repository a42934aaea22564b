package io.shadowmmu.scenario;

import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.hostmm.events.ForwardingEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import io.shadowmmu.scenario.oracle.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * I2 for the parts the builder assembles: KVM's sptes and the vCPUs' TLBs are bound to the VMM process, a GRU
 * device's entries to its user process. A correct run of a VM next to a GRU user is clean; a KVM, a vCPU TLB or a
 * device that installs a frame of the other process (the sink below turns some of its installs into installs of a
 * frame the other process's page table maps right now) is caught as I2, under that part's agent.
 */
class IsolationOfBuiltPartsTest {

    /** Which part's installs are falsified. */
    enum Liar {
        NONE, KVM_SPTE, VCPU_TLB, GRU_DEVICE
    }

    private static final int LIES = 20;

    /**
     * Forwards everything to the oracle, except up to {@link #LIES} installs of the chosen part, which it reports as
     * installs of a frame another bound process's PTE maps now.
     */
    private static final class LyingEvents extends ForwardingEvents {
        private final Liar liar;
        private final Map<Long, Long> boundTo = new ConcurrentHashMap<>();
        private final Map<Long, String> names = new ConcurrentHashMap<>();
        /**
         * By mm id, then virtual address: the frame and generation its page table maps now. A lie must name a frame
         * that is still mapped (a freed one would be I3, not I2); the stressor unmaps the GRU user's pages often.
         */
        private final Map<Long, Map<Long, long[]>> mappedNow = new ConcurrentHashMap<>();
        final AtomicInteger lies = new AtomicInteger();
        volatile long liarAgent = -1;
        /**
         * The liar's last honest install (agent, cache, space, va, writable), kept so that a lie can still be told
         * when the other process maps a frame only after the liar's installs are over: on a loaded machine the two
         * workloads need not overlap.
         */
        private volatile long[] lastHonest;

        LyingEvents(CoherenceOracle oracle, Liar liar) {
            super(oracle);
            this.liar = liar;
        }

        boolean lying(long agent, int cache) {
            String name = names.getOrDefault(agent, "");
            switch (liar) {
                case KVM_SPTE:
                    return name.startsWith("kvm ") && cache == 0;
                case VCPU_TLB:
                    return name.startsWith("kvm ") && cache > 0;
                case GRU_DEVICE:
                    return name.startsWith("gru0/");
                default:
                    return false;
            }
        }

        @Override
        public boolean enabled() {
            return true;
        }

        @Override
        public void agentNamed(long agent, String name) {
            names.merge(agent, name, (a, b) -> a.startsWith("kvm ") ? a : b); // the VM's agent is named twice
            sink.agentNamed(agent, name);
        }

        @Override
        public void mirrors(long agent, long mm) {
            boundTo.put(agent, mm);
            sink.mirrors(agent, mm);
        }

        @Override
        public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                         boolean writable) {
            Long mm = boundTo.get(agent);
            if (mm == null && boundTo.containsValue(space)) { // a host PTE of a bound process
                mappedNow.computeIfAbsent(space, k -> new ConcurrentHashMap<>()).put(va, new long[] {pfn, generation});
                sink.translationInstalled(agent, cache, space, va, pfn, generation, writable);
                lieLate(space, pfn, generation);
                return;
            }
            if (mm != null && lying(agent, cache)) {
                lastHonest = new long[] {agent, cache, space, va, writable ? 1 : 0};
            }
            if (mm != null && lying(agent, cache) && lies.get() < LIES) {
                for (Map.Entry<Long, Map<Long, long[]>> e : mappedNow.entrySet()) {
                    if (!e.getKey().equals(mm)) {
                        for (long[] frame : e.getValue().values()) {
                            lies.incrementAndGet();
                            liarAgent = agent;
                            sink.translationInstalled(agent, cache, space, va, (int) frame[0], (int) frame[1],
                                    writable);
                            return;
                        }
                    }
                }
            }
            sink.translationInstalled(agent, cache, space, va, pfn, generation, writable);
        }

        /** The other process just mapped {@code pfn}: if the liar has not lied yet, it lies now with that frame. */
        private void lieLate(long space, int pfn, int generation) {
            long[] honest = lastHonest;
            if (honest == null || lies.get() > 0 || boundTo.get(honest[0]).equals(space)) {
                return;
            }
            if (lies.compareAndSet(0, 1)) {
                liarAgent = honest[0];
                sink.translationInstalled(honest[0], (int) honest[1], honest[2], honest[3], pfn, generation,
                        honest[4] == 1);
            }
        }

        @Override
        public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
            Map<Long, long[]> mapped = boundTo.get(agent) == null ? mappedNow.get(space) : null;
            if (mapped != null) {
                mapped.remove(va);
            }
            sink.translationRemoved(agent, cache, space, va, pfn, generation);
        }
    }

    private record Run(CoherenceOracle oracle, long liarAgent, int lies) {
    }

    private static Run run(Liar liar, boolean shadow) throws Exception {
        CoherenceOracle oracle = new CoherenceOracle(16);
        LyingEvents events = new LyingEvents(oracle, liar);
        try (Scenario s = ScenarioBuilder.seed(7)
                .host(h -> h.memory("32m"))
                .vm("vm0", v -> {
                    if (shadow) {
                        v.shadow();
                    } else {
                        v.tdp();
                    }
                    v.vcpus(2).memory("4m").workload(WorkloadKind.UNIFORM, 8_000, 0.3, 1 << 20);
                })
                .gruDevice("gru0", g -> g.processes(1).instructions(8_000).region("128k").stressed())
                .stressor(st -> st.interval(Duration.ofMillis(2)).livePages(8))
                .events(events)
                .build()) {
            ScenarioOutcome o = s.run(Duration.ofMinutes(2));
            oracle.audit(o.audit());
            oracle.checkLiveness(Duration.ZERO);
        }
        assertThat(events.boundTo).as("the VM's agent and the device's binding are bound to their processes")
                .hasSize(2);
        assertThat(events.boundTo.values()).doesNotHaveDuplicates();
        return new Run(oracle, events.liarAgent, events.lies.get());
    }

    @Test
    void aVmNextToAGruUserRunsCleanWithBothBound() throws Exception {
        for (boolean shadow : new boolean[] {false, true}) {
            CoherenceOracle oracle = run(Liar.NONE, shadow).oracle();
            assertThat(oracle.violations()).as("shadow paging: %s", shadow).isEmpty();
            assertThat(oracle.clean()).isTrue();
        }
    }

    @ParameterizedTest(name = "{0} installing a frame of the other process is I2")
    @EnumSource(value = Liar.class, names = {"KVM_SPTE", "VCPU_TLB", "GRU_DEVICE"})
    void aPartThatInstallsAFrameOfAnotherProcessIsCaughtAsI2(Liar liar) throws Exception {
        // A run in which the liar found no frame of the other process to lie with tests nothing; it is run again.
        Run r = run(liar, false);
        for (int attempt = 1; attempt < 3 && r.lies() == 0; attempt++) {
            r = run(liar, false);
        }
        assertThat(r.lies()).as("installs falsified").isPositive();
        CoherenceOracle oracle = r.oracle();
        assertThat(oracle.count(Invariant.I2)).as("I2 violations: %s", oracle.violations()).isPositive();
        assertThat(oracle.violations()).filteredOn(v -> v.invariant() == Invariant.I2)
                .extracting(Violation::agent).containsOnly(r.liarAgent());
        assertThat(oracle.violations()).filteredOn(v -> v.invariant() == Invariant.I2).first()
                .satisfies(v -> assertThat(v.detail()).contains("does not hold"));
    }
}
