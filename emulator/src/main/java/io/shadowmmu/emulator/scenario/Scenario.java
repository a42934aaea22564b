package io.shadowmmu.emulator.scenario;

/** One runnable scenario of the emulator: a config plus a seed gives the same run. */
public interface Scenario {
    /** The name used with {@code --scenario}. */
    String name();

    /** One line for {@code shadowmmu scenarios}. */
    String description();

    /** Runs to completion on the calling (non-actor) thread and returns what happened. */
    ScenarioResult run(ScenarioRun run) throws Exception;
}
