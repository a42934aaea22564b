package io.shadowmmu.emulator;

import io.shadowmmu.emulator.cli.BenchCommand;
import io.shadowmmu.emulator.cli.ConfigDocCommand;
import io.shadowmmu.emulator.cli.NodeCommand;
import io.shadowmmu.emulator.cli.RunCommand;
import io.shadowmmu.emulator.cli.ScenariosCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code shadowmmu} command line. */
@Command(name = "shadowmmu", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Actor-based emulator of hypervisor shadow page tables and MMU notifiers.",
        subcommands = {RunCommand.class, ScenariosCommand.class, BenchCommand.class, ConfigDocCommand.class,
                NodeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit code of a run whose oracle found a violation. */
    public static final int EXIT_VIOLATION = 1;
    /** Exit code of a bad command line or bad setting (picocli's usage code). */
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // On a machine with fewer than three cores the JDK's common pool gets a parallelism below 2, and every async
        // CompletionStage stage (Akka's Java ask included) then runs on a brand-new thread. Set it before first use.
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
            System.setProperty(COMMON_POOL_PARALLELISM, Integer.toString(
                    Math.max(4, Runtime.getRuntime().availableProcessors())));
        }
        System.exit(commandLine().execute(args));
    }

    private static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    /** The configured command line, also used by tests. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Version from the jar manifest, or the development version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"shadowmmu " + (v != null ? v : "0.1.0-SNAPSHOT") + " (Akka 2.8.5, Java "
                    + Runtime.version().feature() + ")"};
        }
    }
}
