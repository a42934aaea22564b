package io.shadowmmu.emulator.report;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A terminal progress bar on stderr. */
final class BarProgress implements Progress {
    private final ProgressBar bar;

    BarProgress(String task) {
        this.bar = new ProgressBarBuilder().setTaskName(task).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(200)
                .setInitialMax(100).build();
    }

    @Override
    public void update(long done, long total, String status) {
        if (total > 0) {
            bar.maxHint(total);
        }
        bar.stepTo(Math.min(done, total > 0 ? total : done));
        bar.setExtraMessage(status);
    }

    @Override
    public void close() {
        bar.close();
    }
}
