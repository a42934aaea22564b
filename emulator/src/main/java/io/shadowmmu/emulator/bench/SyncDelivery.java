package io.shadowmmu.emulator.bench;

import io.shadowmmu.hostmm.mm.SynchronousMm;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.notifier.SyncSubscriber;
import io.shadowmmu.hostmm.pagetable.PageTable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The delivery comparison in synchronous mode, the baseline: the same processes, subscribers and operations as
 * {@link ActorDelivery}, but each mm is a {@link SynchronousMm} (one lock, subscribers called directly, the caller
 * waits for each), each worker a thread, and the sleeping subscriber really sleeps, holding the mm's lock.
 */
final class SyncDelivery implements Load {
    private final LongAdder completed = new LongAdder();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private final List<SynchronousMm> mms = new ArrayList<>();
    private final List<Long> bases = new ArrayList<>();
    private final long length;

    SyncDelivery(BenchHost bench, BenchSizes sizes, SubscriberKind kind) {
        long opBytes = sizes.pagesPerOp() * PageTable.PAGE_SIZE;
        this.length = sizes.workersPerProcess() * opBytes;
        for (int p = 0; p < sizes.processes(); p++) {
            SynchronousMm mm = new SynchronousMm(bench.host(), "sync-delivery-" + p);
            for (Duration delay : kind.ackDelays) {
                mm.subscribe(delay.isZero() ? new Atomic() : new Sleeping(delay));
            }
            long base = mm.mmap(length);
            mms.add(mm);
            bases.add(base);
            for (int w = 0; w < sizes.workersPerProcess(); w++) {
                long start = base + w * opBytes;
                Thread t = new Thread(() -> loop(mm, start, sizes.pagesPerOp()), "sync-worker-" + p + "-" + w);
                t.setDaemon(true);
                threads.add(t);
            }
        }
        for (Thread t : threads) {
            t.start();
        }
    }

    private void loop(SynchronousMm mm, long start, int pages) {
        while (!stop.get()) {
            mm.dontneed(start, pages * PageTable.PAGE_SIZE);
            for (int i = 0; i < pages; i++) {
                mm.access(start + i * PageTable.PAGE_SIZE, true, i);
            }
            completed.increment();
        }
    }

    @Override
    public long completed() {
        return completed.sum();
    }

    @Override
    public void close() {
        stop.set(true);
        for (Thread t : threads) {
            try {
                t.join(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stopping the synchronous workers", e);
            }
            if (t.isAlive()) {
                throw new IllegalStateException(t.getName() + " did not stop");
            }
        }
        for (int i = 0; i < mms.size(); i++) {
            mms.get(i).munmap(bases.get(i), length);
        }
    }

    /** Acknowledges by returning at once. */
    private static final class Atomic implements SyncSubscriber {
        @Override
        public void invalidateStart(long mm, List<Range> ranges, InvalidationEvent event) {
        }

        @Override
        public void invalidateEnd(long mm, List<Range> ranges) {
        }
    }

    /** Sleeps before it returns: the calling thread and the mm's lock wait with it. */
    private static final class Sleeping implements SyncSubscriber {
        private final Duration delay;

        Sleeping(Duration delay) {
            this.delay = delay;
        }

        @Override
        public void invalidateStart(long mm, List<Range> ranges, InvalidationEvent event) {
            // The baseline the actor design is measured against: a sleeping callback under the mm's lock, as a
            // synchronous notifier would run it. It runs on a plain worker thread of this mode, never on an actor.
            try {
                Thread.sleep(delay.toMillis(), delay.toNanosPart() % 1_000_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void invalidateEnd(long mm, List<Range> ranges) {
        }
    }
}
