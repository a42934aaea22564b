package io.shadowmmu.scenario.oracle;

import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/** The oracle fed by hand: each invariant it checks is caught, and a correct sequence is clean. */
class CoherenceOracleTest {
    private static final long HOST = 1;
    private static final long KVM = 2;

    @Test
    void aCorrectLifecycleIsClean() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.frameAllocated(5, 1, HOST);
        o.translationInstalled(HOST, 0, 1, 0x1000, 5, 1, true);
        o.translationInstalled(KVM, 0, 1, 0x1000, 5, 1, true);
        o.invalidationStarted(1, 1, List.of(new Range(0x1000, 0x2000)), InvalidationEvent.UNMAP);
        o.translationRemoved(HOST, 0, 1, 0x1000, 5, 1);
        o.translationRemoved(KVM, 0, 1, 0x1000, 5, 1);
        o.invalidationCompleted(1, 1, 1000);
        o.frameFreed(5, 1);
        o.frameAllocated(5, 2, HOST);
        assertThat(o.clean()).isTrue();
        assertThat(o.checkLiveness(Duration.ZERO)).isZero();
        assertThat(o.counts()).containsOnlyKeys(Invariant.values()).allSatisfy((k, v) -> assertThat(v).isZero());
    }

    @Test
    void aFrameFreedUnderALiveTranslationIsI3WithAStory() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.agentNamed(KVM, "kvm vm0");
        o.frameAllocated(7, 3, HOST);
        o.translationInstalled(KVM, 1, 42, 0x7000, 7, 3, false);
        o.frameFreed(7, 3);
        assertThat(o.count(Invariant.I3)).isEqualTo(1);
        Violation v = o.violations().get(0);
        assertThat(v.detail()).contains("frame 7").contains("kvm vm0").contains("0x7000");
        assertThat(v.story()).hasSize(3);
        assertThat(v.story().get(1)).contains("INSTALLED");
        assertThat(v.describe()).contains("I3").contains("story");
    }

    @Test
    void aPageASecondaryDirtiedThatLeavesTheCacheUnwrittenIsI6() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.agentNamed(KVM, "kvm vm0");
        o.frameAllocated(4, 1, HOST);
        o.frameDirtiedBySecondary(KVM, 4, 1);
        o.pageCacheEvicted(4, 1, true); // written back: fine
        o.frameDirtiedBySecondary(KVM, 4, 1);
        o.frameFreed(4, 1);
        o.frameAllocated(4, 2, HOST);
        o.pageCacheEvicted(4, 2, false); // another generation: the write was not to this page
        assertThat(o.clean()).isTrue();

        o.frameDirtiedBySecondary(KVM, 4, 2);
        o.pageCacheEvicted(4, 2, false);
        assertThat(o.count(Invariant.I6)).isEqualTo(1);
        assertThat(o.violations().get(0).agentName()).startsWith("kvm vm0");
        assertThat(o.violations().get(0).story()).anySatisfy(line -> assertThat(line).contains("DIRTIED"))
                .anySatisfy(line -> assertThat(line).contains("EVICTED"));
    }

    @Test
    void installingAStaleGrantIsI3() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.frameAllocated(9, 1, HOST);
        o.frameFreed(9, 1);
        o.translationInstalled(KVM, 0, 1, 0x9000, 9, 1, false);
        o.frameAllocated(9, 2, HOST);
        o.translationInstalled(KVM, 0, 1, 0x9000, 9, 1, false);
        assertThat(o.count(Invariant.I3)).isEqualTo(2);
    }

    @Test
    void aRevokedAgentsTranslationsNoLongerCount() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.frameAllocated(3, 1, HOST);
        o.translationInstalled(KVM, 0, 1, 0x3000, 3, 1, true);
        o.agentRevoked(KVM, "fenced");
        o.frameFreed(3, 1);
        o.translationRemoved(KVM, 0, 1, 0x3000, 3, 1); // late, after the fence: harmless
        assertThat(o.clean()).isTrue();
        assertThat(o.liveTranslations()).isZero();
    }

    @Test
    void anInvalidationThatNeverCompletesIsI4() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.invalidationStarted(1, 9, List.of(), InvalidationEvent.CLEAR);
        assertThat(o.checkLiveness(Duration.ofHours(1))).isZero();
        assertThat(o.openInvalidations()).isEqualTo(1);
        assertThat(o.checkLiveness(Duration.ZERO)).isEqualTo(1);
        assertThat(o.count(Invariant.I4)).isEqualTo(1);
    }

    @Test
    void auditProblemsAreI5AndAgentReportsAreRecorded() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.audit(new HostCommand.AuditReport(3, 5, 2, 0, 0, 1, List.of("frame 4 leaked")));
        o.violation(Invariant.I1, KVM, "read 0x10: expected 1, found 2");
        o.violation(Invariant.I6, KVM, "dirty bit lost");
        assertThat(o.count(Invariant.I5)).isEqualTo(1);
        assertThat(o.count(Invariant.I1)).isEqualTo(1);
        assertThat(o.count(Invariant.I6)).isEqualTo(1);
        assertThat(o.total()).isEqualTo(3);
        assertThat(o.clean()).isFalse();
    }

    @Test
    void installingOverALiveSlotReplacesTheOldTranslation() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.frameAllocated(10, 1, HOST);
        o.frameAllocated(11, 1, HOST);
        o.translationInstalled(KVM, 0, 1, 0xa000, 10, 1, false);
        o.translationInstalled(KVM, 0, 1, 0xa000, 11, 1, true); // the same spte now points elsewhere
        o.frameFreed(10, 1);
        assertThat(o.clean()).as("frame 10 has no translation left").isTrue();
        o.frameFreed(11, 1);
        assertThat(o.count(Invariant.I3)).as("frame 11 still has one").isEqualTo(1);
    }

    @Test
    void aRefillOfTheSameTranslationIsStillOneTranslation() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.frameAllocated(12, 4, HOST);
        o.translationInstalled(KVM, 2, 1, 0xc000, 12, 4, false);
        o.translationInstalled(KVM, 2, 1, 0xc000, 12, 4, false);
        assertThat(o.liveTranslations()).isEqualTo(1);
        o.translationRemoved(KVM, 2, 1, 0xc000, 12, 4);
        o.frameFreed(12, 4);
        assertThat(o.clean()).isTrue();
    }

    @Test
    void anI4StoryTellsTheEventAndWhoAnswered() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.invalidationStarted(3, 17, List.of(new Range(0x4000, 0x6000)), InvalidationEvent.MIGRATE);
        o.invalidationAcked(3, 17, 100);
        o.invalidationFenced(3, 17, 101);
        o.invalidationStarted(3, 18, List.of(), InvalidationEvent.UNMAP);
        o.invalidationCompleted(3, 18, 5);
        assertThat(o.openInvalidations()).isEqualTo(1);
        assertThat(o.checkLiveness(Duration.ZERO)).isEqualTo(1);
        assertThat(o.checkLiveness(Duration.ZERO)).as("reported once").isZero();
        Violation v = o.violations().get(0);
        assertThat(v.invariant()).isEqualTo(Invariant.I4);
        assertThat(v.detail()).contains("batch 17").contains("mm 3").contains("MIGRATE");
        assertThat(String.join("\n", v.story())).contains("started MIGRATE").contains("acked by subscription 100")
                .contains("subscription 101 fenced");
    }

    @Test
    void leakedFramesInAnAuditAreI5EvenWithoutAProblemLine() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.audit(new HostCommand.AuditReport(10, 6, 2, 0, 0, 2, List.of()));
        assertThat(o.count(Invariant.I5)).isEqualTo(1);
        assertThat(o.violations().get(0).detail()).contains("2 frame(s) leaked");
        CoherenceOracle clean = new CoherenceOracle(8);
        clean.audit(new HostCommand.AuditReport(10, 8, 2, 0, 0, 0, List.of()));
        assertThat(clean.clean()).isTrue();
    }

    @Test
    void manyThreadsAtOnceStayConsistent() throws Exception {
        CoherenceOracle o = new CoherenceOracle(4);
        int threads = 4;
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            int base = t * 1000;
            long agent = 100 + t;
            new Thread(() -> {
                for (int round = 1; round <= 200; round++) {
                    for (int i = 0; i < 50; i++) {
                        int pfn = base + i;
                        o.frameAllocated(pfn, round, agent);
                        o.translationInstalled(agent, 0, agent, pfn * 4096L, pfn, round, true);
                        o.translationRemoved(agent, 0, agent, pfn * 4096L, pfn, round);
                        o.frameFreed(pfn, round);
                    }
                }
                done.countDown();
            }).start();
        }
        done.await();
        assertThat(o.clean()).isTrue();
        assertThat(o.eventsSeen()).isEqualTo(4L * 200 * 50 * 4);
    }
}
