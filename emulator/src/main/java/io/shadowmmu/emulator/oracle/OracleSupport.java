package io.shadowmmu.emulator.oracle;

import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import io.shadowmmu.scenario.oracle.Violation;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CLI's view of the coherence oracle: the event sink every host of a run is built with, the end-of-run checks
 * (I4 liveness, I5 audit) and the verdict. With {@code oracle.enabled = off} the sink is the no-op one and the run
 * pays nothing for it.
 */
public final class OracleSupport {
    private final CoherenceOracle oracle;

    private OracleSupport(CoherenceOracle oracle) {
        this.oracle = oracle;
    }

    public static OracleSupport create(Settings settings) {
        return new OracleSupport(settings.oracle().enabled() ? new CoherenceOracle(settings.oracle()) : null);
    }

    public boolean enabled() {
        return oracle != null;
    }

    public CoherenceEvents events() {
        return oracle != null ? oracle : CoherenceEvents.NONE;
    }

    /** The oracle itself, for scenarios that check more (null when disabled). */
    public CoherenceOracle oracle() {
        return oracle;
    }

    /** End of a run: the audit's problems are I5 violations; any invalidation still open is an I4 one. */
    public void finish(HostCommand.AuditReport audit) {
        if (oracle == null) {
            return;
        }
        oracle.audit(audit);
        oracle.checkLiveness(Duration.ZERO);
    }

    /** Violations by invariant, every invariant present. */
    public Map<String, Long> counts() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Invariant i : Invariant.values()) {
            out.put(i.name(), oracle == null ? 0 : oracle.count(i));
        }
        return out;
    }

    public long total() {
        return oracle == null ? 0 : oracle.total();
    }

    public boolean clean() {
        return total() == 0;
    }

    public long eventsSeen() {
        return oracle == null ? 0 : oracle.eventsSeen();
    }

    /** Readable accounts of the first violations, stories included. */
    public List<String> stories(int max) {
        List<String> out = new ArrayList<>();
        if (oracle != null) {
            for (Violation v : oracle.violations()) {
                if (out.size() == max) {
                    break;
                }
                out.add(v.describe());
            }
        }
        return out;
    }
}
