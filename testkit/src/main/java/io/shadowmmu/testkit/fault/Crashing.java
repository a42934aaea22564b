package io.shadowmmu.testkit.fault;

import akka.actor.typed.Behavior;
import akka.actor.typed.BehaviorInterceptor;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.Behaviors;

import java.util.Random;

/**
 * Crash-and-restart injection: wraps an actor's behaviour so that it throws {@link InjectedCrash} before handling the
 * messages its {@link CrashPlan} picks (or the next one after {@link CrashCounters#crashAtNextMessage()}), under a
 * supervisor that restarts it at once. A restart runs the behaviour's setup again: the actor keeps its address and
 * mailbox (no message is lost) and loses its state and timers; its behaviour sees {@code PreRestart} first.
 *
 * <p>Children are left running: the behaviour stops, in {@code PreRestart}, whatever belonged to the dead
 * incarnation. Akka's default (stop the children, stash incoming messages until they have terminated, then replay)
 * lost messages under a storm of crashes: past 1,000 the restart stash drops them, and with a larger stash the actor
 * still stopped answering now and then.
 *
 * <p>A secondary MMU survives a crash coherently if it treats a restart the way a driver treats a reset device: the
 * dead incarnation's translations are gone (report that to the oracle in {@code PreRestart}, e.g. with
 * {@code agentRevoked} under an agent id of that incarnation), the new one starts with empty tables and registers
 * again under a fresh agent id, and the host stops waiting on the old subscription (stop the address it was
 * registered under, which the host watches, or unregister it; otherwise its ack deadline fences it).
 */
public final class Crashing {
    private Crashing() {
    }

    /**
     * {@code behavior}, crashing as {@code plan} says and restarted each time, its children left running. Spawn the
     * result once: its crash points are counted over that actor's messages.
     */
    public static <T> Behavior<T> supervised(Behavior<T> behavior, CrashPlan plan, CrashCounters counters) {
        Schedule schedule = new Schedule(plan, counters);
        return Behaviors.supervise(Behaviors.intercept(() -> new CrashInterceptor<T>(schedule), behavior))
                .onFailure(InjectedCrash.class, SupervisorStrategy.restart().withLoggingEnabled(false).withStopChildren(false));
    }

    /** The crash points of one actor, surviving its restarts. Used only from that actor's thread of the moment. */
    private static final class Schedule {
        private final CrashPlan plan;
        private final CrashCounters counters;
        private final Random random;
        /** A planned or requested crash waiting for an eligible message. */
        private String pending;

        Schedule(CrashPlan plan, CrashCounters counters) {
            this.plan = plan;
            this.counters = counters;
            this.random = new Random(plan.seed());
        }

        /** Null to go on, or why {@code message} crashes the actor. */
        String crash(Object message) {
            long n = counters.messages.incrementAndGet();
            boolean random = plan.probability() > 0 && this.random.nextDouble() < plan.probability();
            if (plan.atMessages().contains(n)) {
                pending = "planned crash at message " + n;
            }
            if (counters.crashRequested.getAndSet(false)) {
                pending = "crash requested, at message " + n;
            }
            if (!plan.eligible().test(message)) {
                return null;
            }
            String why = pending != null ? pending : random ? "random crash at message " + n + " (seed "
                    + plan.seed() + ")" : null;
            pending = null;
            return why;
        }
    }

    private static final class CrashInterceptor<T> extends BehaviorInterceptor<T, T> {
        private final Schedule schedule;

        @SuppressWarnings("unchecked")
        CrashInterceptor(Schedule schedule) {
            super((Class<T>) (Class<?>) Object.class);
            this.schedule = schedule;
        }

        @Override
        public Behavior<T> aroundReceive(TypedActorContext<T> ctx, T msg, ReceiveTarget<T> target) {
            String why = schedule.crash(msg);
            if (why != null) {
                schedule.counters.crashes.incrementAndGet();
                throw new InjectedCrash(why);
            }
            return target.apply(ctx, msg);
        }
    }
}
