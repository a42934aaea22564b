package io.shadowmmu.scenario.secondary;

import io.shadowmmu.config.ContentMode;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TranslationCacheTest {
    private static final long P = PhysicalMemory.PAGE_SIZE;
    private static final long AGENT = 77;

    /** What the cache told the oracle, one line an event. */
    private final List<String> told = new ArrayList<>();
    private final CoherenceEvents recorder = new CoherenceEvents() {
        @Override
        public void translationInstalled(long agent, int cache, long space, long va, int pfn, int generation,
                                         boolean writable) {
            told.add("installed " + agent + " " + space + " " + va + " " + pfn);
        }

        @Override
        public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
            told.add("removed " + agent + " " + space + " " + va + " " + pfn);
        }

        @Override
        public void violation(Invariant invariant, long agent, String detail) {
            told.add(invariant + " " + detail);
        }
    };
    private final PhysicalMemory memory = new PhysicalMemory(8, ContentMode.TAGGED, true, recorder);
    private final TranslationCache cache = new TranslationCache(memory, AGENT, 5, "sec");

    @Test
    void installsReadsAndDropsAndTellsTheOracleOfEach() {
        int a = memory.allocate(5, PhysicalMemory.FLAG_ANON);
        int b = memory.allocate(5, PhysicalMemory.FLAG_ANON);
        cache.install(0, a, memory.generation(a));
        cache.install(4 * P, b, memory.generation(b));

        assertThat(cache.read(8)).isTrue();
        assertThat(cache.read(P + 8)).as("a page it never installed").isFalse();
        assertThat(cache.holdsAny(new Range(4 * P, 5 * P))).isTrue();
        assertThat(cache.holdsAny(new Range(P, 4 * P))).isFalse();

        cache.drop(List.of(new Range(0, P)));
        assertThat(cache.holds(0)).isFalse();
        assertThat(cache.size()).isEqualTo(1);
        cache.dropAll();
        assertThat(cache.size()).isZero();
        assertThat(told).containsExactly("installed 77 5 0 " + a, "installed 77 5 " + 4 * P + " " + b,
                "removed 77 5 0 " + a, "removed 77 5 " + 4 * P + " " + b);
    }

    @Test
    void aReadThroughAFrameFreedAndReusedIsReportedAsI3() {
        int a = memory.allocate(5, PhysicalMemory.FLAG_ANON);
        cache.install(0, a, memory.generation(a));
        memory.put(a); // freed behind the cache's back
        int again = memory.allocate(6, PhysicalMemory.FLAG_ANON);
        assertThat(again).isEqualTo(a);

        assertThat(cache.read(16)).isTrue();
        assertThat(told).last().asString().startsWith("I3 sec read 0x10 through a translation to frame " + a);
    }

    @Test
    void aCrashForgetsWithoutAnEventPerTranslation() {
        int a = memory.allocate(5, PhysicalMemory.FLAG_ANON);
        cache.install(0, a, memory.generation(a));
        told.clear();
        cache.forget();
        assertThat(cache.size()).isZero();
        assertThat(told).isEmpty();
    }
}
