package io.shadowmmu.emulator.bench;

import io.shadowmmu.guest.tlb.Tlb;
import io.shadowmmu.guest.tlb.TlbGeometry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The vCPU's TLB-hit path next to its limit, over the same address stream: {@code rawLoop} reads the word straight
 * from a page array (what any emulator must do at least); {@code tlbHit} does what the vCPU does on a hit: the TLB's
 * first level ({@code Tlb.hitFrame}: the window's range check and read, or outside it the tag compare, LRU stamp
 * included; the hit count either way), which hands back the frame's cached words, and the word read; a first-level
 * miss goes to the set-associative TLB with the check-mode generation compare. Check mode
 * verifies first-level entries once per slice instead of once per access, so the stream runs in slices of the
 * default {@code guest.slice-accesses}, each begun with that revalidation, as the vCPU does. Every address hits (the
 * working set fits the TLB).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class TlbHitBenchmark {
    static final int ACCESSES = 1 << 16;
    static final int PAGES = 48;
    /** The default {@code guest.slice-accesses}: check mode revalidates the first level once per slice. */
    static final int SLICE = 10_000;

    long[] addresses;
    long[][] frames;
    Tlb tlb;
    AtomicIntegerArray generations;
    Tlb.Generations currentGenerations;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        addresses = new long[ACCESSES];
        for (int i = 0; i < ACCESSES; i++) {
            addresses[i] = ((long) random.nextInt(PAGES) << 12) | ((long) random.nextInt(512) << 3);
        }
        frames = new long[PAGES][512];
        generations = new AtomicIntegerArray(PAGES);
        currentGenerations = generations::get;
        tlb = new Tlb(new TlbGeometry(64, 4));
        for (int p = 0; p < PAGES; p++) {
            frames[p][p] = p + 1;
            generations.set(p, 1);
            tlb.insert(p, p, 1, true, frames[p]);
        }
    }

    /** The limit: the same stream read from a plain array of pages. */
    @Benchmark
    @OperationsPerInvocation(ACCESSES)
    public long rawLoop() {
        long sum = 0;
        long[] a = addresses;
        long[][] f = frames;
        for (int i = 0; i < a.length; i++) {
            long va = a[i];
            sum += f[(int) (va >>> 12)][(int) ((va & 4095) >>> 3)];
        }
        return sum;
    }

    /**
     * The vCPU hit path: per slice, the check-mode revalidation of the first level; per access, a first-level hit
     * (counted) giving the cached frame, and the word read; on a first-level miss, the TLB lookup and the generation
     * check (check mode).
     */
    @Benchmark
    @OperationsPerInvocation(ACCESSES)
    public long tlbHit() {
        long sum = 0;
        long[] a = addresses;
        Tlb t = tlb;
        for (int start = 0; start < a.length; start += SLICE) {
            t.revalidate(currentGenerations);
            for (int i = start, end = Math.min(a.length, start + SLICE); i < end; i++) {
                long va = a[i];
                long vpn = va >>> 12;
                long[] words = t.hitFrame(vpn, false);
                if (words == null) {
                    words = t.frame(checkedLookup(t, vpn));
                }
                sum += words[(int) ((va & 4095) >>> 3)];
            }
        }
        return sum;
    }

    /** A first-level miss: the TLB proper and the check-mode generation compare (a volatile read). */
    private int checkedLookup(Tlb t, long vpn) {
        int slot = t.lookup(vpn);
        if (slot < 0) {
            throw new IllegalStateException("miss in a hit-only stream");
        }
        if (generations.get(t.pfn(slot)) != t.generation(slot)) {
            throw new IllegalStateException("stale frame");
        }
        return slot;
    }
}
