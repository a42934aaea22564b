package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;

/** The protocol of {@link GruDevice}. */
public sealed interface GruCommand {

    /**
     * A user process opens a context on this device ({@code gru_create_context} + first mmap of the GSEG): the
     * context is bound to the process's mm, and the device subscribes to that mm's notifier if it had not yet.
     *
     * @param mmId the mm's id (as in {@code ProcessSpawned.mm()}), which notifications and registrations carry
     */
    record OpenContext(long mmId, ActorRef<MmCommand> mm, String owner, ActorRef<ContextOpened> replyTo)
            implements GruCommand {
    }

    /** Reply to OpenContext; {@code context} is the handle for Execute (-1 when refused). */
    record ContextOpened(int context, long mmId, boolean ok, String detail) {
    }

    /** Run {@code batch} from instruction {@code from} on {@code context}; the device answers one BatchResult. */
    record Execute(int context, DeviceBatch batch, int from, ActorRef<BatchResult> replyTo) implements GruCommand {
    }

    /**
     * Outcome of an Execute.
     *
     * @param next     index of the first instruction not executed ({@code batch.size()} when all ran)
     * @param faultVa  for NEEDS_HOST_FAULT: the address the drop-in could not translate
     * @param checksum a fold of every value loaded or returned by an AMO, so loads are observable
     */
    record BatchResult(int context, int next, Status status, long faultVa, boolean faultWrite, long checksum,
                       long lastValue) {
        public enum Status {
            /** Every instruction ran. */
            DONE,
            /** The drop-in found no usable PTE: take a host fault for faultVa and re-issue from next. */
            NEEDS_HOST_FAULT,
            /** The context is closed (released, or its mm exited). */
            CLOSED
        }
    }

    /** The user process is done with the context ({@code gru_free_gru_context}). */
    record CloseContext(int context) implements GruCommand {
    }

    record GetStats(ActorRef<GruStats> replyTo) implements GruCommand {
    }

    /** Test and report probe: the device's state for one bound mm. */
    record Inspect(long mmId, ActorRef<Inspection> replyTo) implements GruCommand {
    }

    /**
     * @param asid        the mm's ASID on this device (0: none, no context loaded)
     * @param tlbEntries  valid TLB entries under that ASID
     * @param rangeActive invalidations started and not ended ({@code ms_range_active})
     */
    record Inspection(long mmId, boolean bound, long subscription, int asid, int tlbEntries, int rangeActive,
                      long sequence, int parked) {
    }

    /** Messages only the device sends to itself (adapters). */
    non-sealed interface Internal extends GruCommand {
    }
}
