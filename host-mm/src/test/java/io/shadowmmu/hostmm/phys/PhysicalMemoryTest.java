package io.shadowmmu.hostmm.phys;

import io.shadowmmu.config.ContentMode;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PhysicalMemoryTest {
    @Test
    void allocationZeroesBumpsGenerationAndRunsOut() {
        PhysicalMemory m = new PhysicalMemory(4, ContentMode.FULL, true, CoherenceEvents.NONE);
        int a = m.allocate(1, PhysicalMemory.FLAG_ANON);
        m.write(a, 3, 99);
        int gen = m.generation(a);
        m.put(a);
        int b = m.allocate(2, 0);
        assertThat(b).as("LIFO reuse").isEqualTo(a);
        assertThat(m.read(b, 3)).as("zeroed on allocation").isZero();
        assertThat(m.generation(b)).isEqualTo(gen + 1);
        assertThat(m.hasFlag(b, PhysicalMemory.FLAG_ANON)).isFalse();
        m.allocate(0, 0);
        m.allocate(0, 0);
        m.allocate(0, 0);
        assertThat(m.allocate(0, 0)).isEqualTo(PhysicalMemory.NO_FRAME);
        assertThat(m.freeFrames()).isZero();
    }

    @Test
    void theLastPutFreesAndAnExtraPutIsRefused() {
        PhysicalMemory m = new PhysicalMemory(2, ContentMode.TAGGED, true, CoherenceEvents.NONE);
        int a = m.allocate(1, 0);
        m.get(a);
        m.put(a);
        assertThat(m.freeFrames()).isEqualTo(1);
        m.put(a);
        assertThat(m.freeFrames()).isEqualTo(2);
        assertThatThrownBy(() -> m.put(a)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> m.get(a)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void taggedFramesReadTheirTagEverywhere() {
        PhysicalMemory m = new PhysicalMemory(2, ContentMode.TAGGED, true, CoherenceEvents.NONE);
        int a = m.allocate(1, 0);
        m.write(a, 7, 1234);
        assertThat(m.read(a, 0)).isEqualTo(1234);
        assertThat(m.words(a)).isNull();
    }

    @Test
    void concurrentAllocateAndFreeNeverHandsOutAFrameTwice() throws Exception {
        PhysicalMemory m = new PhysicalMemory(64, ContentMode.TAGGED, true, CoherenceEvents.NONE);
        ConcurrentHashMap<Integer, Boolean> held = new ConcurrentHashMap<>();
        AtomicInteger doubles = new AtomicInteger();
        int threads = 4;
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    int pfn = m.allocate(0, 0);
                    if (pfn == PhysicalMemory.NO_FRAME) {
                        continue;
                    }
                    if (held.putIfAbsent(pfn, true) != null) {
                        doubles.incrementAndGet();
                    }
                    held.remove(pfn);
                    m.put(pfn);
                }
                done.countDown();
            }).start();
        }
        done.await();
        assertThat(doubles.get()).isZero();
        assertThat(m.freeFrames()).isEqualTo(64);
    }
}
