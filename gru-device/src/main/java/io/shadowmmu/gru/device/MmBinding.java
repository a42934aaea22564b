package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** One mm bound to a device ({@code struct gru_mm_struct}): its subscription, ASID and active invalidations. */
final class MmBinding {
    final long mmId;
    final ActorRef<MmCommand> mm;
    /** -1 while (re)registering: nothing may be dropped in. */
    long subscription = -1;
    AccessGrant grant;
    PageTableWalker walker;
    /** ASID on this device, 0 while no context of this mm is loaded (flushes for it are skipped: lazy). */
    int asid;
    int loadedContexts;
    int openContexts;
    /** Invalidations started and not yet ended, by batch ({@code ms_range_active} is their count). */
    final List<Active> active = new ArrayList<>();
    /** Bumped by every End and by a fence; a drop-in that sampled another value is discarded. */
    long sequence;
    /** Executions waiting for an End or for registration; resumed in order. */
    final ArrayDeque<GruCommand.Execute> parked = new ArrayDeque<>();
    final List<GruCommand.OpenContext> pendingOpens = new ArrayList<>();

    record Active(long batch, List<Range> ranges) {
    }

    MmBinding(long mmId, ActorRef<MmCommand> mm) {
        this.mmId = mmId;
        this.mm = mm;
    }

    boolean registered() {
        return subscription >= 0;
    }

    int rangeActive() {
        return active.size();
    }

    /** Whether an active invalidation covers the page at {@code va}. */
    boolean activeOver(long va) {
        for (int i = 0; i < active.size(); i++) {
            if (Range.anyContains(active.get(i).ranges(), va)) {
                return true;
            }
        }
        return false;
    }

    void endBatch(long batch) {
        for (int i = 0; i < active.size(); i++) {
            if (active.get(i).batch() == batch) {
                active.remove(i);
                return;
            }
        }
    }
}
