package io.shadowmmu.emulator.oracle;

import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import io.shadowmmu.scenario.oracle.Violation;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
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

    /**
     * Readable accounts of the first violations, stories included, in the order they happened: the first of each
     * broken invariant always among them, so that a run whose first violations are all consequences of one (a stale
     * translation read as a lost write, say) still shows the one that caused them.
     */
    public List<String> stories(int max) {
        List<String> out = new ArrayList<>();
        if (oracle == null || max <= 0) {
            return out;
        }
        List<Violation> all = oracle.violations();
        boolean[] chosen = new boolean[all.size()];
        EnumSet<Invariant> seen = EnumSet.noneOf(Invariant.class);
        int picked = 0;
        for (int i = 0; i < all.size() && picked < max; i++) {
            if (seen.add(all.get(i).invariant())) {
                chosen[i] = true;
                picked++;
            }
        }
        for (int i = 0; i < all.size() && picked < max; i++) {
            if (!chosen[i]) {
                chosen[i] = true;
                picked++;
            }
        }
        for (int i = 0; i < all.size(); i++) {
            if (chosen[i]) {
                out.add(all.get(i).describe());
            }
        }
        return out;
    }
}
