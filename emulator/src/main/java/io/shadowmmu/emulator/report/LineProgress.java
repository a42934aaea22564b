package io.shadowmmu.emulator.report;

import java.io.PrintStream;

/** Plain progress lines, at most one every {@code intervalMillis}, for logs and CI where there is no terminal. */
final class LineProgress implements Progress {
    private final String task;
    private final PrintStream out;
    private final long intervalMillis;
    private final long started = System.currentTimeMillis();
    private long lastPrinted;

    LineProgress(String task, PrintStream out, long intervalMillis) {
        this.task = task;
        this.out = out;
        this.intervalMillis = intervalMillis;
    }

    @Override
    public void update(long done, long total, String status) {
        long now = System.currentTimeMillis();
        if (now - lastPrinted < intervalMillis) {
            return;
        }
        lastPrinted = now;
        String pct = total > 0 ? String.format(" (%d%%)", Math.min(100, done * 100 / total)) : "";
        out.printf("%s: %,d%s of %,d after %.1fs  %s%n", task, done, pct, total, (now - started) / 1000.0, status);
    }

    @Override
    public void close() {
    }
}
