package io.shadowmmu.cluster;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;

import java.time.Duration;

/**
 * Settings of cross-node import ({@code shadowmmu.cluster}).
 *
 * @param invalidationsInFlight how many Invalidate messages an attachment may have on the wire to its importer at
 *                              once; 1 is "queue, and interrupt once"
 */
public record ClusterSettings(Duration ackDeadline, Duration faultReplyDelay, Duration reattachBackoff,
                              int invalidationsInFlight) {
    public static ClusterSettings read(Settings settings) {
        ConfigReader r = settings.reader().section("cluster");
        return new ClusterSettings(
                r.duration("ack-deadline", Duration.ofMillis(1), Duration.ofMinutes(10)),
                r.duration("fault-reply-delay", Duration.ZERO, Duration.ofMinutes(1)),
                r.duration("reattach-backoff", Duration.ofMillis(1), Duration.ofMinutes(1)),
                r.intBetween("invalidations-in-flight", 1, 64));
    }

    public ClusterSettings withAckDeadline(Duration d) {
        return new ClusterSettings(d, faultReplyDelay, reattachBackoff, invalidationsInFlight);
    }

    public ClusterSettings withFaultReplyDelay(Duration d) {
        return new ClusterSettings(ackDeadline, d, reattachBackoff, invalidationsInFlight);
    }

    public ClusterSettings withInvalidationsInFlight(int n) {
        return new ClusterSettings(ackDeadline, faultReplyDelay, reattachBackoff, n);
    }
}
