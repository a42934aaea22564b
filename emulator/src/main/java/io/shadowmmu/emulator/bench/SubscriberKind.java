package io.shadowmmu.emulator.bench;

import java.time.Duration;
import java.util.List;

/** The subscribers each mm of the delivery comparison has. */
public enum SubscriberKind {
    /** Two atomic subscribers (both acknowledge inside their handler / callback). */
    ATOMIC(List.of(Duration.ZERO, Duration.ZERO)),
    /** One atomic subscriber and one that acknowledges 1 ms later (a remote round trip, a vCPU shootdown). */
    SLEEPING(List.of(Duration.ZERO, Duration.ofMillis(1)));

    /** One entry per subscriber: how long it takes to acknowledge. */
    public final List<Duration> ackDelays;

    SubscriberKind(List<Duration> ackDelays) {
        this.ackDelays = ackDelays;
    }
}
