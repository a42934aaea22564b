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

    /** Runs to completion on the calling (non-actor) thread and returns what happened. */
    ScenarioResult run(ScenarioRun run) throws Exception;
}
