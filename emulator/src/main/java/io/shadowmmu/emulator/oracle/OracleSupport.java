package io.shadowmmu.emulator.oracle;

import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The CLI's view of the coherence oracle: the event sink every host of a run is built with, the end-of-run audit,
 * and the verdict. Until the full oracle is wired in it records the violations agents report themselves and those
 * of the audit.
 */
public final class OracleSupport {
    private final boolean enabled;
    private final AtomicLongArray counts = new AtomicLongArray(Invariant.values().length);
    private final List<String> stories = Collections.synchronizedList(new ArrayList<>());
    private final CoherenceEvents events;

    private OracleSupport(boolean enabled) {
        this.enabled = enabled;
        this.events = !enabled ? CoherenceEvents.NONE : new CoherenceEvents() {
            @Override
            public boolean enabled() {
                return true;
            }

            @Override
            public void violation(Invariant invariant, long agent, String detail) {
                record(invariant, "agent " + agent + ": " + detail);
            }
        };
    }

    public static OracleSupport create(Settings settings) {
        return new OracleSupport(settings.oracle().enabled());
    }

    public boolean enabled() {
        return enabled;
    }

    public CoherenceEvents events() {
        return events;
    }

    /** Turns an I5 audit's problems into violations. */
    public void audit(HostCommand.AuditReport report) {
        for (String p : report.problems()) {
            record(Invariant.I5, p);
        }
    }

    private void record(Invariant invariant, String detail) {
        counts.incrementAndGet(invariant.ordinal());
        if (stories.size() < 50) {
            stories.add(invariant + ": " + detail);
        }
    }

    /** Violations by invariant, every invariant present. */
    public Map<String, Long> counts() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Invariant i : Invariant.values()) {
            out.put(i.name(), counts.get(i.ordinal()));
        }
        return out;
    }

    public long total() {
        long n = 0;
        for (int i = 0; i < counts.length(); i++) {
            n += counts.get(i);
        }
        return n;
    }

    public boolean clean() {
        return total() == 0;
    }

    /** Readable accounts of the first violations. */
    public List<String> stories(int max) {
        synchronized (stories) {
            return List.copyOf(stories.subList(0, Math.min(max, stories.size())));
        }
    }

    static Map<Invariant, Long> emptyCounts() {
        return new EnumMap<>(Invariant.class);
    }
}
