package io.shadowmmu.emulator.scenario;

/** One runnable scenario of the emulator: a config plus a seed gives the same run. */
public interface Scenario {
    /** The name used with {@code --scenario}. */
    String name();

    /** One line for {@code shadowmmu scenarios}. */
    String description();

    /** Whether {@code --duration} bounds this scenario (the others are bounded by {@code --ops}). */
    default boolean timeBounded() {
        return false;
    }

    /**
     * Why this scenario cannot exhibit a race-catalogue variant (the CLI refuses to run it rather than report a clean
     * run of a broken protocol), or null when it can. REGISTER_UNQUIESCED needs a subscriber that reads the host page
     * table itself and registers while a barrier invalidation is in flight: the gru scenario's devices (D54);
     * LOST_DIRTY needs a secondary writing a shared file page behind a clean host PTE, then reclaim of that page: the
     * VM scenarios with shared-file guest RAM.
     * STALE_INFLIGHT_FAULT needs cross-node importers: only the cluster scenario has them; SKIP_WRITE_BACK too (its
     * importers' copies, mapped by ranges).
     */
    default String cannotExhibit(io.shadowmmu.config.Variant variant) {
        if (variant == io.shadowmmu.config.Variant.REGISTER_UNQUIESCED) {
            return "scenario " + name() + " cannot exhibit variant register_unquiesced: its secondaries register"
                    + " before any invalidation (run --scenario gru, whose devices re-register while slow-acked RANGE"
                    + " invalidations are in flight; also proven in the scenario module's RegisterUnquiescedTest)";
        }
        if (variant == io.shadowmmu.config.Variant.LOST_DIRTY) {
            return "scenario " + name() + " cannot exhibit variant lost_dirty: no secondary here writes a shared"
                    + " file page that reclaim then evicts (run it with vm-tdp, vm-shadow or overcommit, whose guest"
                    + " RAM it puts in a shared file; also proven in the scenario module's LostDirtyTest)";
        }
        if (variant == io.shadowmmu.config.Variant.STALE_INFLIGHT_FAULT) {
            return "scenario " + name() + " cannot exhibit variant stale_inflight_fault: it needs fault replies that"
                    + " cross nodes (run --scenario cluster)";
        }
        if (variant == io.shadowmmu.config.Variant.SKIP_WRITE_BACK) {
            return "scenario " + name() + " cannot exhibit variant skip_write_back: it needs cross-node importers"
                    + " that copy pages (run --scenario cluster)";
        }
        return null;
    }

    /** Runs to completion on the calling (non-actor) thread and returns what happened. */
    ScenarioResult run(ScenarioRun run) throws Exception;
}
