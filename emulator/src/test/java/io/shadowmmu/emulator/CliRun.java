package io.shadowmmu.emulator;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process invocation of the command line, with what it printed. */
record CliRun(int exit, String out, String err) {

    /** Runs the command line; a {@code run} writes no report directory unless the test names one. */
    static CliRun of(String... args) {
        if (args.length > 0 && args[0].equals("run") && !java.util.Arrays.asList(args).contains("--report")) {
            String[] quiet = java.util.Arrays.copyOf(args, args.length + 1);
            quiet[args.length] = "--no-report";
            return exec(quiet);
        }
        return exec(args);
    }

    private static CliRun exec(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.commandLine().execute(args);
            return new CliRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
