package io.shadowmmu.guest.testing;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps the violations agents report. */
public final class RecordingEvents implements CoherenceEvents {
    public record Violation(Invariant invariant, long agent, String detail) {
    }

    public final List<Violation> violations = new CopyOnWriteArrayList<>();

    @Override
    public void violation(Invariant invariant, long agent, String detail) {
        violations.add(new Violation(invariant, agent, detail));
    }
}
