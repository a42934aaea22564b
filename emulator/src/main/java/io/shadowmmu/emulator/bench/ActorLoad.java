package io.shadowmmu.emulator.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A load driven by actors: they count into {@code completed}, check {@code stop} before each new operation, and
 * complete {@code stopped} once they and the mms they drove have exited.
 */
final class ActorLoad implements Load {
    private final LongAdder completed;
    private final AtomicBoolean stop;
    private final CompletableFuture<Void> stopped;

    ActorLoad(LongAdder completed, AtomicBoolean stop, CompletableFuture<Void> stopped) {
        this.completed = completed;
        this.stop = stop;
        this.stopped = stopped;
    }

    @Override
    public long completed() {
        return completed.sum();
    }

    @Override
    public void close() {
        stop.set(true);
        try {
            stopped.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("a benchmark load did not stop", e);
        }
    }
}
