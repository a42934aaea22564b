package io.shadowmmu.hostmm.pressure;

import akka.actor.typed.ActorRef;

/**
 * What every pressure daemon (reclaim, migration, KSM) understands besides its own work. The frame audit (I5) is exact
 * only on a quiescent host, and a daemon that evicts a page while the audit counts would make it report a reference
 * count that was right a moment earlier; so the audit first pauses every daemon and resumes them when it is done.
 */
public sealed interface AuditPause extends Reclaimer.Command, Migrator.Command, KsmScanner.Command {

    /** Start nothing new; answer once the work already in flight is done. */
    record Pause(ActorRef<Paused> replyTo) implements AuditPause {
    }

    /** Go on (once for every {@link Pause}). */
    enum Resume implements AuditPause {
        INSTANCE
    }

    /** The daemon has nothing in flight and starts nothing until resumed. */
    record Paused(String daemon) {
    }
}
