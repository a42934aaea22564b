package io.shadowmmu.cluster;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

import java.time.Duration;

/** Settings of cross-node import ({@code shadowmmu.cluster}). */
public record ClusterSettings(Duration ackDeadline, Duration faultReplyDelay, Duration reattachBackoff) {
    public static ClusterSettings read(Settings settings) {
        ConfigReader r = settings.reader().section("cluster");
        return new ClusterSettings(
                r.duration("ack-deadline", Duration.ofMillis(1), Duration.ofMinutes(10)),
                r.duration("fault-reply-delay", Duration.ZERO, Duration.ofMinutes(1)),
                r.duration("reattach-backoff", Duration.ofMillis(1), Duration.ofMinutes(1)));
    }

    public ClusterSettings withAckDeadline(Duration d) {
        return new ClusterSettings(d, faultReplyDelay, reattachBackoff);
    }

    public ClusterSettings withFaultReplyDelay(Duration d) {
        return new ClusterSettings(ackDeadline, d, reattachBackoff);
    }
}
