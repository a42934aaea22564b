package io.shadowmmu.testkit.fault;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** What a {@link Crashing} actor went through, readable while it runs; and a switch to crash it on demand. */
public final class CrashCounters {
    final AtomicLong messages = new AtomicLong();
    final AtomicLong crashes = new AtomicLong();
    final AtomicBoolean crashRequested = new AtomicBoolean();

    /** Messages the actor received (those that crashed it included). */
    public long messages() {
        return messages.get();
    }

    /** Injected crashes, each followed by a restart. */
    public long crashes() {
        return crashes.get();
    }

    /** Crash the actor on its next message, whatever the plan says. */
    public void crashAtNextMessage() {
        crashRequested.set(true);
    }

    @Override
    public String toString() {
        return "messages " + messages() + ", crashes " + crashes();
    }
}
