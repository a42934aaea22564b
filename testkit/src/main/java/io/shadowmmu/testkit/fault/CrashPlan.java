package io.shadowmmu.testkit.fault;

import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * When a {@link Crashing} actor throws: on chosen message numbers (counted from 1 over the actor's whole life, across
 * restarts), and/or at random with a fixed probability per message, from one seeded stream, so a failing run replays
 * with the same seed and the same arrivals. Start from {@link #seeded(long)} (never crashes).
 *
 * @param probability chance that any one message crashes the actor before its handler runs
 * @param atMessages  message numbers that crash the actor
 * @param eligible    which messages may crash it: a planned or requested crash that falls on another message waits
 *                    for the next eligible one (e.g. spare the messages a test waits for a reply to)
 */
public record CrashPlan(long seed, double probability, Set<Long> atMessages, Predicate<Object> eligible) {

    public CrashPlan {
        if (!(probability >= 0 && probability <= 1)) {
            throw new IllegalArgumentException("crash probability = " + probability + ": must be in [0, 1]");
        }
        for (long n : atMessages) {
            if (n < 1) {
                throw new IllegalArgumentException("crash at message " + n + ": messages are numbered from 1");
            }
        }
        atMessages = Set.copyOf(atMessages);
        java.util.Objects.requireNonNull(eligible, "eligible");
    }

    /** A plan that never crashes, to add crash points to. */
    public static CrashPlan seeded(long seed) {
        return new CrashPlan(seed, 0, Set.of(), message -> true);
    }

    /** Each message crashes the actor with {@code probability}. */
    public CrashPlan randomly(double probability) {
        return new CrashPlan(seed, probability, atMessages, eligible);
    }

    /** The actor crashes on these message numbers (1 = its first message). */
    public CrashPlan atMessages(long... numbers) {
        Set<Long> all = new TreeSet<>(atMessages);
        for (long n : numbers) {
            all.add(n);
        }
        return new CrashPlan(seed, probability, all, eligible);
    }

    /** Only messages that {@code which} accepts crash the actor (the others still count and draw). */
    public CrashPlan onlyWhen(Predicate<Object> which) {
        return new CrashPlan(seed, probability, atMessages, which);
    }
}
