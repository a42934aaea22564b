package io.shadowmmu.scenario.oracle;

import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** I2 fed by hand: a secondary bound to one mm may translate only frames that mm holds, and only while it does. */
class IsolationTest {
    private static final long MM_A = 10;
    private static final long MM_B = 11;
    private static final long HOST_A = 1; // the agent under which mm A reports its PTEs
    private static final long HOST_B = 2;
    private static final long SEC = 3;    // a secondary of mm A
    private static final Range PAGE = new Range(0x1000, 0x2000);

    private static CoherenceOracle oracle() {
        CoherenceOracle o = new CoherenceOracle(8);
        o.agentNamed(SEC, "sec");
        o.mirrors(SEC, MM_A);
        o.frameAllocated(5, 1, MM_A);
        o.translationInstalled(HOST_A, 0, MM_A, 0x1000, 5, 1, true);
        o.frameAllocated(6, 1, MM_B);
        o.translationInstalled(HOST_B, 0, MM_B, 0x1000, 6, 1, true);
        return o;
    }

    @Test
    void aSecondaryTranslatingItsOwnMmsFramesIsClean() {
        CoherenceOracle o = oracle();
        o.translationInstalled(SEC, 0, MM_A, 0x1000, 5, 1, false);
        // munmap: the PTE goes, the secondary drops before its ack, the batch completes, the frame is freed.
        o.invalidationStarted(MM_A, 1, List.of(PAGE), InvalidationEvent.UNMAP);
        o.translationRemoved(HOST_A, 0, MM_A, 0x1000, 5, 1);
        o.translationRemoved(SEC, 0, MM_A, 0x1000, 5, 1);
        o.invalidationCompleted(MM_A, 1, 1000);
        o.frameFreed(5, 1);
        assertThat(o.violations()).isEmpty();
    }

    @Test
    void aFaultAnswerInstalledAfterThePteWentButBeforeTheAckIsClean() {
        // The answer to get_user_pages reached the secondary before the InvalidateStart did: legal, it drops it next.
        CoherenceOracle o = oracle();
        o.translationRemoved(HOST_A, 0, MM_A, 0x1000, 5, 1);
        o.invalidationStarted(MM_A, 1, List.of(PAGE), InvalidationEvent.UNMAP);
        o.translationInstalled(SEC, 0, MM_A, 0x1000, 5, 1, false);
        o.translationRemoved(SEC, 0, MM_A, 0x1000, 5, 1);
        o.invalidationCompleted(MM_A, 1, 1000);
        assertThat(o.violations()).isEmpty();
    }

    @Test
    void installingAFrameOfAnotherMmIsI2WithAStory() {
        CoherenceOracle o = oracle();
        o.translationInstalled(SEC, 0, MM_A, 0x1000, 6, 1, false);
        assertThat(o.count(Invariant.I2)).isEqualTo(1);
        Violation v = o.violations().get(0);
        assertThat(v.agentName()).contains("sec");
        assertThat(v.detail()).contains("frame 6").contains("mm " + MM_A).contains("does not hold");
        assertThat(v.story()).anySatisfy(line -> assertThat(line).contains("INSTALLED"));
        assertThat(o.liveTranslations()).as("reported once, not kept").isEqualTo(2);
    }

    @Test
    void aFrameTheMmSharesIsHeldThroughItsOwnPte() {
        // A page-cache frame (owned by a file) mapped by both mms: mm A holds it through its PTE.
        CoherenceOracle o = oracle();
        o.frameAllocated(7, 1, 99);
        o.translationInstalled(HOST_B, 0, MM_B, 0x3000, 7, 1, false);
        o.translationInstalled(HOST_A, 0, MM_A, 0x5000, 7, 1, false);
        o.translationInstalled(SEC, 0, MM_A, 0x5000, 7, 1, false);
        assertThat(o.violations()).isEmpty();
    }

    @Test
    void aTranslationKeptAfterTheInvalidationCompletedWhileAnotherMmHoldsTheFrameIsI2() {
        // Copy-on-write after a fork: mm A allocated the page, mm B (the child) shares it; A's write gives A a copy
        // and leaves the original to B. A secondary of A that acked without dropping keeps reading B's memory, and
        // since B still maps the frame it is never freed: I3 never fires.
        CoherenceOracle o = oracle();
        o.frameAllocated(7, 1, MM_A);
        o.translationInstalled(HOST_A, 0, MM_A, 0x5000, 7, 1, false);
        o.translationInstalled(HOST_B, 0, MM_B, 0x5000, 7, 1, false);
        o.translationInstalled(SEC, 0, MM_A, 0x5000, 7, 1, false);
        o.invalidationStarted(MM_A, 4, List.of(new Range(0x5000, 0x6000)), InvalidationEvent.UNMAP);
        o.translationRemoved(HOST_A, 0, MM_A, 0x5000, 7, 1);
        o.invalidationCompleted(MM_A, 4, 1000);
        assertThat(o.count(Invariant.I2)).isEqualTo(1);
        assertThat(o.violations().get(0).detail()).contains("still translates 0x5000").contains("frame 7");
        o.translationRemoved(HOST_B, 0, MM_B, 0x5000, 7, 1);
        o.frameFreed(7, 1);
        assertThat(o.count(Invariant.I3)).as("the secondary's translation reported once").isZero();
    }

    @Test
    void aPageCachePageKeptAfterItsUnmapIsLeftToI3() {
        // A file's page mapped shared by both: any mapper of the file may read it, so keeping it is judged when the
        // page leaves the cache and is freed under the translation.
        CoherenceOracle o = oracle();
        o.frameAllocated(7, 1, 99);
        o.translationInstalled(HOST_A, 0, MM_A, 0x5000, 7, 1, false);
        o.translationInstalled(HOST_B, 0, MM_B, 0x3000, 7, 1, false);
        o.translationInstalled(SEC, 0, MM_A, 0x5000, 7, 1, false);
        o.invalidationStarted(MM_A, 4, List.of(new Range(0x5000, 0x6000)), InvalidationEvent.UNMAP);
        o.translationRemoved(HOST_A, 0, MM_A, 0x5000, 7, 1);
        o.invalidationCompleted(MM_A, 4, 1000);
        assertThat(o.count(Invariant.I2)).isZero();
        o.translationRemoved(HOST_B, 0, MM_B, 0x3000, 7, 1);
        o.frameFreed(7, 1);
        assertThat(o.count(Invariant.I3)).isEqualTo(1);
    }

    @Test
    void aTranslationKeptOnAFrameNobodyMapsAnyMoreIsLeftToI3() {
        // Paged out or migrated: the frame is on its way to being freed, and the free under the translation is I3.
        CoherenceOracle o = oracle();
        o.translationInstalled(SEC, 0, MM_A, 0x1000, 5, 1, false);
        o.invalidationStarted(MM_A, 2, List.of(PAGE), InvalidationEvent.UNMAP);
        o.translationRemoved(HOST_A, 0, MM_A, 0x1000, 5, 1);
        o.invalidationCompleted(MM_A, 2, 1000);
        assertThat(o.count(Invariant.I2)).isZero();
        o.frameFreed(5, 1);
        assertThat(o.count(Invariant.I3)).isEqualTo(1);
    }

    @Test
    void anUnboundAgentIsNotCheckedForIsolation() {
        CoherenceOracle o = oracle();
        o.translationInstalled(4, 0, MM_A, 0x1000, 6, 1, false);
        assertThat(o.violations()).isEmpty();
    }
}
