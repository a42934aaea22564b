package io.shadowmmu.guest.vcpu;

import io.shadowmmu.guest.tlb.Tlb;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.trace.LackeyTrace;
import io.shadowmmu.guest.workload.AccessBatch;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The per-access paths allocate nothing: measured with the JVM's per-thread allocation counter. */
class HitPathAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static long allocated() {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    @Test
    void tlbHitsAndGoldenChecksAllocateNothing() {
        assumeTrue(THREADS.isThreadAllocatedMemorySupported());
        Tlb tlb = new Tlb(new TlbGeometry(64, 4));
        GoldenCopy golden = new GoldenCopy();
        long[][] frames = new long[32][512];
        for (int p = 0; p < 32; p++) {
            tlb.insert(p, p, 1, true, frames[p]);
            golden.wrote((long) p << 12, 1);
        }
        Tlb.Generations generations = pfn -> 1;
        long sum = run(tlb, generations, golden, 100_000);  // warm up (JIT)
        long before = allocated();
        sum += run(tlb, generations, golden, 1_000_000);
        long after = allocated();
        assertThat(sum).isNotZero();
        assertThat(after - before).isLessThan(1024);
    }

    private static long run(Tlb tlb, Tlb.Generations generations, GoldenCopy golden, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            if (i % 10_000 == 0) {
                tlb.revalidate(generations);  // a slice begins (check mode)
            }
            long va = ((long) (i & 31) << 12) | ((i * 8L) & 4095);
            // The vCPU's order: the first level (its window, or outside it the tag compare), then the TLB proper;
            // here every third access each way, to cover all three.
            long[] f = i % 3 == 0 ? tlb.hitFrame(va >>> 12, true) : null;
            int slot = i % 3 == 1 ? tlb.hit(va >>> 12, true) : -1;
            if (f == null) {
                if (slot < 0) {
                    slot = tlb.lookup(va >>> 12);
                }
                f = tlb.frame(slot);
            }
            int w = (int) ((va & 4095) >>> 3);
            f[w] = i;
            golden.wrote(va, i);
            if (golden.knows(va)) {
                sum += golden.expected(va) == f[w] ? 1 : 0;
            }
        }
        return sum;
    }

    @Test
    void workloadsFillBatchesWithoutAllocating() {
        assumeTrue(THREADS.isThreadAllocatedMemorySupported());
        Region r = new Region(0, 1024 * 4096);
        AccessBatch batch = new AccessBatch(10_000);
        for (WorkloadKind k : WorkloadKind.values()) {
            Workload w = WorkloadSpec.of(k, 2_000_000, 0.3).create(r, 1);
            drain(w, batch, 20);  // warm up
            long before = allocated();
            drain(w, batch, 100);
            assertThat(allocated() - before).as(k.name()).isLessThan(1024);
        }
    }

    @Test
    void traceParsingAllocatesNothingPerLine() {
        assumeTrue(THREADS.isThreadAllocatedMemorySupported());
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 200_000; i++) {
            sb.append(i % 3 == 0 ? "I  " : " L ").append(Long.toHexString(0x400000 + i * 8L)).append(",8\n");
        }
        LackeyTrace t = LackeyTrace.ofString("gen", sb.toString());
        AccessBatch batch = new AccessBatch(10_000);
        drain(t, batch, 2);  // warm up
        long before = allocated();
        drain(t, batch, 15);
        // 150,000 lines parsed; a String per line alone would be megabytes.
        assertThat(allocated() - before).isLessThan(64 * 1024);
    }

    private static void drain(Workload w, AccessBatch batch, int batches) {
        for (int i = 0; i < batches; i++) {
            batch.clear();
            w.fill(batch);
        }
    }
}
