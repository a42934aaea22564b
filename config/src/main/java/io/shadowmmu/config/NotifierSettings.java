package io.shadowmmu.config;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;

/**
 * How a host mm delivers invalidations to its secondary MMUs.
 *
 * @param strategy            the delivery design
 * @param ackDeadline         past it an unacknowledged subscriber is fenced
 * @param maxRangesPerMessage ranges one notification carries before it is split
 * @param maxPagesPerBatch    pages one coalesced batch carries at most before the next change starts another
 * @param fencePollInterval   how often the host re-checks a fenced subscriber's access section
 * @param nackRetryDelay      delay before a non-blockable operation that got a Nack is retried
 * @param coalesce            GATHER tells the changes an mm made before it served its mailbox in one batch
 */
public record NotifierSettings(DeliveryStrategyKind strategy, Duration ackDeadline, int maxRangesPerMessage,
                               int maxPagesPerBatch, Duration fencePollInterval, Duration nackRetryDelay,
                               boolean coalesce) {

    /** Strategies with an implementation; any other would be refused with a clear error. */
    public static final Set<DeliveryStrategyKind> AVAILABLE = EnumSet.allOf(DeliveryStrategyKind.class);

    static NotifierSettings read(ConfigReader r) {
        DeliveryStrategyKind strategy = r.enumValue("strategy", DeliveryStrategyKind.class);
        if (!AVAILABLE.contains(strategy)) {
            throw r.fail("strategy", "is not available yet (available: " + AVAILABLE + ")");
        }
        return new NotifierSettings(
                strategy,
                r.duration("ack-deadline", Duration.ofMillis(1), Duration.ofMinutes(10)),
                r.intBetween("max-ranges-per-message", 1, 1 << 20),
                r.intBetween("max-pages-per-batch", 1, 1 << 30),
                r.duration("fence-poll-interval", Duration.ofNanos(100_000), Duration.ofSeconds(1)),
                r.duration("nack-retry-delay", Duration.ofNanos(100_000), Duration.ofSeconds(10)),
                r.getBoolean("coalesce"));
    }

    /** The same settings with another strategy: used by scenarios that compare strategies side by side. */
    public NotifierSettings withStrategy(DeliveryStrategyKind other) {
        return new NotifierSettings(other, ackDeadline, maxRangesPerMessage, maxPagesPerBatch, fencePollInterval,
                nackRetryDelay, coalesce);
    }

    public NotifierSettings withAckDeadline(Duration deadline) {
        return new NotifierSettings(strategy, deadline, maxRangesPerMessage, maxPagesPerBatch, fencePollInterval,
                nackRetryDelay, coalesce);
    }

    /** The same settings with coalescing on or off: tests that count one batch per operation turn it off. */
    public NotifierSettings withCoalesce(boolean on) {
        return new NotifierSettings(strategy, ackDeadline, maxRangesPerMessage, maxPagesPerBatch, fencePollInterval,
                nackRetryDelay, on);
    }
}
