package io.shadowmmu.emulator.scenario;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * When a run bounded by time should wind down: at a deadline, or earlier when one part of the run ended and the
 * others should follow. Workloads ask it between batches (a clock read and a flag, never a wait); the actors then
 * finish what they have in flight, so the run quiesces before its audit.
 */
public final class RunBound {
    private final long deadlineNanos;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private RunBound(long deadlineNanos) {
        this.deadlineNanos = deadlineNanos;
    }

    /** Reached {@code duration} from now; never by itself when {@code duration} is null. */
    public static RunBound after(Duration duration) {
        return new RunBound(duration == null ? Long.MAX_VALUE : System.nanoTime() + duration.toNanos());
    }

    public boolean reached() {
        return stopped.get() || (deadlineNanos != Long.MAX_VALUE && System.nanoTime() - deadlineNanos >= 0);
    }

    /** Ends the run now (one part finished its budget of operations; the others stop too). */
    public void stop() {
        stopped.set(true);
    }
}
