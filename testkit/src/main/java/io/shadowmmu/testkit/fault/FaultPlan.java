package io.shadowmmu.testkit.fault;

import io.shadowmmu.hostmm.notifier.MmuNotification;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/**
 * What a {@link FaultyLink} does to the messages it carries, all decided by one seeded random stream, so a failing
 * run replays with the same seed. Start from {@link #seeded(long)} (no faults) and add faults one by one.
 *
 * @param delayMin   each message waits a uniform delay in [delayMin, delayMax] (first in, first out is kept)
 * @param duplicate  probability that a message is delivered twice
 * @param reorder    probability that a message is held back and delivered after the next one
 * @param drop       probability that a message of one of the {@code droppable} kinds is lost
 * @param droppable  the notification kinds that may be lost: only those whose loss the protocol recovers from (a
 *                   lost {@code InvalidateStart} is never acked, so the host fences the subscriber at its deadline)
 * @param ackDelay   every reply of the subscriber (ack, nack, young report) reaches the host this much later: a slow
 *                   acker; beyond the ack deadline it is fenced
 */
public record FaultPlan(long seed, Duration delayMin, Duration delayMax, double duplicate, double reorder,
                        double drop, Set<Class<? extends MmuNotification>> droppable, Duration ackDelay) {

    public FaultPlan {
        requireProbability("duplicate", duplicate);
        requireProbability("reorder", reorder);
        requireProbability("drop", drop);
        if (delayMin.isNegative() || delayMax.compareTo(delayMin) < 0) {
            throw new IllegalArgumentException("delay range [" + delayMin + ", " + delayMax + "]: need 0 <= min <= max");
        }
        if (ackDelay.isNegative()) {
            throw new IllegalArgumentException("ackDelay = " + ackDelay + ": must not be negative");
        }
        droppable = Set.copyOf(droppable);
    }

    /** No faults yet: every message passes at once, exactly once, in order. */
    public static FaultPlan seeded(long seed) {
        return new FaultPlan(seed, Duration.ZERO, Duration.ZERO, 0, 0, 0, Set.of(), Duration.ZERO);
    }

    public FaultPlan delays(Duration min, Duration max) {
        return new FaultPlan(seed, min, max, duplicate, reorder, drop, droppable, ackDelay);
    }

    public FaultPlan duplicates(double probability) {
        return new FaultPlan(seed, delayMin, delayMax, probability, reorder, drop, droppable, ackDelay);
    }

    public FaultPlan reorders(double probability) {
        return new FaultPlan(seed, delayMin, delayMax, duplicate, probability, drop, droppable, ackDelay);
    }

    @SafeVarargs
    public final FaultPlan drops(double probability, Class<? extends MmuNotification>... kinds) {
        Set<Class<? extends MmuNotification>> set = new HashSet<>();
        for (Class<? extends MmuNotification> kind : kinds) {
            set.add(kind);
        }
        return new FaultPlan(seed, delayMin, delayMax, duplicate, reorder, probability, set, ackDelay);
    }

    public FaultPlan slowAcks(Duration delay) {
        return new FaultPlan(seed, delayMin, delayMax, duplicate, reorder, drop, droppable, delay);
    }

    private static void requireProbability(String name, double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException(name + " = " + p + ": a probability must be in [0, 1]");
        }
    }
}
