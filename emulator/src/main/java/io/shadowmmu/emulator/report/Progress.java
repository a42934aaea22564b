package io.shadowmmu.emulator.report;

/**
 * Progress of a long run, shown on stderr: a bar on a terminal, plain periodic lines otherwise. Called from the
 * CLI's main thread (which polls the actors' counters), never from an actor.
 */
public interface Progress extends AutoCloseable {
    /** Current position out of {@code total} (0 when unknown) with a short status such as "faults 1,234". */
    void update(long done, long total, String status);

    @Override
    void close();

    Progress NONE = new Progress() {
        @Override
        public void update(long done, long total, String status) {
        }

        @Override
        public void close() {
        }
    };

    /** A bar when stderr is a terminal, periodic lines when it is not, nothing when {@code quiet}. */
    static Progress forTerminal(String task, boolean quiet) {
        if (quiet) {
            return NONE;
        }
        return System.console() != null ? new BarProgress(task) : new LineProgress(task, System.err, 2_000);
    }
}
