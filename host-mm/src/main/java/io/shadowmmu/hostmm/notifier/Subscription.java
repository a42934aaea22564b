package io.shadowmmu.hostmm.notifier;

import akka.actor.typed.ActorRef;

/** One registered secondary MMU ({@code struct mmu_notifier} / {@code mmu_interval_notifier}). */
final class Subscription {
    final long id;
    final ActorRef<MmuNotification> ref;
    final Interest interest;
    final long agent;
    final String name;
    final long ackDeadlineNanos;
    final AccessGrant grant = new AccessGrant();

    Subscription(long id, ActorRef<MmuNotification> ref, Interest interest, long agent, String name,
                 long ackDeadlineNanos) {
        this.id = id;
        this.ref = ref;
        this.interest = interest;
        this.agent = agent;
        this.name = name;
        this.ackDeadlineNanos = ackDeadlineNanos;
    }

    @Override
    public String toString() {
        return "subscription " + id + " (" + name + ")";
    }
}
