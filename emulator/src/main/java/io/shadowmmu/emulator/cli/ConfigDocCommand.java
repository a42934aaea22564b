package io.shadowmmu.emulator.cli;

import io.shadowmmu.emulator.Main;
import io.shadowmmu.emulator.docs.ConfigReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Prints the configuration reference (docs/CONFIG.md) generated from every module's reference.conf. */
@Command(name = "config-doc", mixinStandardHelpOptions = true,
        description = "Print the configuration reference (" + ConfigReference.DOCUMENT + ") generated from every"
                + " module's reference.conf; run it from the repository root.")
public final class ConfigDocCommand implements Callable<Integer> {

    @Option(names = "--root", paramLabel = "DIR", description = "Repository root (default: the working directory).")
    Path root = Path.of(".");

    @Override
    public Integer call() {
        try {
            System.out.print(ConfigReference.generate(root));
            return 0;
        } catch (IOException e) {
            System.err.println("shadowmmu: " + e.getMessage());
            return Main.EXIT_USAGE;
        }
    }
}
