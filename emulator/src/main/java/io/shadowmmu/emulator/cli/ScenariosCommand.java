package io.shadowmmu.emulator.cli;

import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.Scenarios;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** Lists the scenarios with one line each. */
@Command(name = "scenarios", mixinStandardHelpOptions = true, description = "List the scenarios `run` knows.")
public final class ScenariosCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        for (Scenario s : Scenarios.all().values()) {
            System.out.printf("  %-12s %s%s%n", s.name(), s.description(),
                    s.name().equals(Scenarios.DEFAULT) ? " (default)" : "");
        }
        return 0;
    }
}
