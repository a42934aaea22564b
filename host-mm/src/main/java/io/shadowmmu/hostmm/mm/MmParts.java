package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.MmNotifier;

/**
 * What the mm's operation classes ({@link FaultHandler}, {@link Syscalls}, {@link PressureOps}) share: the address
 * space, its notifier, the one reusable {@link Gather}, and the actor's context and timers. All of it is touched
 * only on the mm actor's thread.
 *
 * @param park             puts a command aside until a batch completes; it is dispatched again then
 * @param notifierBypassed the benchmark baseline that skips the notifier entirely
 */
record MmParts(ActorContext<MmCommand> context, TimerScheduler<MmCommand> timers, HostContext host,
               ActorRef<HostCommand> hostActor, AddressSpace space, MmNotifier notifier, Gather gather,
               Parking park, boolean notifierBypassed) {

    /** Where a command waits for a batch in flight. */
    interface Parking {
        void park(long batch, MmCommand command);
    }

    MmCounters counters() {
        return space.counters();
    }
}
