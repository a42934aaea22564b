package io.shadowmmu.scenario;

import java.time.Duration;

/**
 * The host stressor next to each VM of a scenario ({@link VmHostStressor}); set through
 * {@link ScenarioBuilder#stressor}.
 */
public final class StressSpec {
    Duration interval = Duration.ofMillis(2);
    int balloonPages = 32;
    int forkEvery = 8;
    int livePages = 16;

    /** Pause between two rounds on each VM. */
    public StressSpec interval(Duration pause) {
        this.interval = pause;
        return this;
    }

    /** Guest pages ballooned (then discarded, remapped or write-protected) per round. */
    public StressSpec balloonPages(int pages) {
        this.balloonPages = pages;
        return this;
    }

    /** Every this many rounds the VMM forks and the child exits (0: never). */
    public StressSpec forkEvery(int rounds) {
        this.forkEvery = rounds;
        return this;
    }

    /** Guest pages the guest may be using, moved or paged out per round (0: none). */
    public StressSpec livePages(int pages) {
        this.livePages = pages;
        return this;
    }

    public Duration interval() {
        return interval;
    }

    public int balloonPages() {
        return balloonPages;
    }

    public int forkEvery() {
        return forkEvery;
    }

    public int livePages() {
        return livePages;
    }
}
