package io.shadowmmu.hostmm.pressure;

import akka.actor.typed.ActorRef;

import java.util.ArrayList;
import java.util.List;

/** A daemon's side of {@link AuditPause}: whether it may start work, and who waits for its work in flight to end. */
final class Pausing {
    private final String daemon;
    private final List<ActorRef<AuditPause.Paused>> waiting = new ArrayList<>();
    private int pauses;

    Pausing(String daemon) {
        this.daemon = daemon;
    }

    boolean paused() {
        return pauses > 0;
    }

    /** A pause or a resume; {@code idle} says whether the daemon has nothing in flight now. */
    void on(AuditPause message, boolean idle) {
        if (message instanceof AuditPause.Pause p) {
            pauses++;
            waiting.add(p.replyTo());
            settled(idle);
        } else if (pauses > 0) {
            pauses--;
        }
    }

    /** Called whenever work in flight ends: once none is left, every pause waiting for it is answered. */
    void settled(boolean idle) {
        if (!idle || waiting.isEmpty()) {
            return;
        }
        for (ActorRef<AuditPause.Paused> r : waiting) {
            r.tell(new AuditPause.Paused(daemon));
        }
        waiting.clear();
    }
}
