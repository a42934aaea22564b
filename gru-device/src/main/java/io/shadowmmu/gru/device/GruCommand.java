package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;

/** The protocol of {@link GruDevice}. */
public sealed interface GruCommand {

    /**
     * A user process opens a device context ({@code gru_create_context} + mmap of the GRU space): the context is bound
     * to the process's mm, which the device subscribes to.
     */
    record OpenContext(ActorRef<MmCommand> mm, long mmId, ActorRef<ContextOpened> replyTo) implements GruCommand {
    }

    /** @param context the device's handle for the context, or -1 when the device refused (reason says why) */
    record ContextOpened(int context, int asid, String reason) {
    }

    /**
     * Executes {@code instructions} from index {@code from}. The reply comes when all ran, or at the first one that
     * needs a host fault, or when the context is gone.
     */
    record Execute(int context, Instructions instructions, int from, ActorRef<BatchResult> replyTo)
            implements GruCommand {
    }

    /**
     * @param next      index of the first instruction not executed ({@code count} when all ran)
     * @param faultVa   with FAULT: the address the device could not translate
     * @param loadSum   sum of the values loads and AMOs returned (a cheap witness that they ran)
     */
    record BatchResult(int context, Status status, int next, long faultVa, boolean faultWrite, long loadSum) {
        public enum Status {
            /** Every instruction ran. */
            DONE,
            /** The instruction at {@code next} needs a host fault (not present or not writable), then a retry. */
            FAULT,
            /** The context no longer exists (closed, or its mm exited). */
            GONE
        }
    }

    record CloseContext(int context) implements GruCommand {
    }

    record GetStats(ActorRef<GruStats> replyTo) implements GruCommand {
    }

    /** Messages only the device sends itself (adapters). */
    non-sealed interface Internal extends GruCommand {
    }
}
