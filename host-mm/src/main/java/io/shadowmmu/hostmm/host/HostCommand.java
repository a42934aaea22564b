package io.shadowmmu.hostmm.host;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;

import java.util.List;

/** The protocol of {@link HostActor}: the host kernel's process table and file system. */
public sealed interface HostCommand {

    /** Creates a host process with an empty address space. */
    record SpawnProcess(String name, ActorRef<ProcessSpawned> replyTo) implements HostCommand {
    }

    record ProcessSpawned(long mm, String name, ActorRef<MmCommand> process) {
    }

    record CreateFile(String name, long sizeBytes, ActorRef<FileCreated> replyTo) implements HostCommand {
    }

    record FileCreated(MemFile file) {
    }

    /** truncate(2): every mm mapping the file drops the pages beyond the new size; replies when all have. */
    record Truncate(MemFile file, long newSizeBytes, ActorRef<MmResult> replyTo) implements HostCommand {
    }

    /** unlink + last close: the page cache is dropped (the file must no longer be mapped). */
    record DeleteFile(MemFile file, ActorRef<MmResult> replyTo) implements HostCommand {
    }

    record GetHostStats(ActorRef<HostStats> replyTo) implements HostCommand {
    }

    /** Counters of reclaim, swap, migration and KSM. */
    record GetPressureStats(ActorRef<io.shadowmmu.hostmm.pressure.PressureCounters.Snapshot> replyTo)
            implements HostCommand {
    }

    /**
     * Checks I5 at a quiescent point: every allocated frame is referenced by a PTE, a page-cache slot or a pending
     * batch, and no frame is held by nobody.
     */
    record Audit(ActorRef<AuditReport> replyTo) implements HostCommand {
    }

    /**
     * @param framesTotal   physical frames
     * @param framesFree    on the free list
     * @param framesPendingFree held only by pending-free batches
     */
    record HostStats(long framesTotal, long framesFree, long framesPendingFree, long pageCachePages,
                     List<MmStats> processes) {
    }

    /**
     * @param allocated frames not on the free list
     * @param mapped    frames referenced by some PTE
     * @param pageCache frames in some page cache
     * @param pendingFree frames held by pending batches
     * @param leaked    allocated frames referenced by none of these
     * @param problems  readable descriptions of each violation (empty when clean)
     */
    record AuditReport(long allocated, long free, long mapped, long pageCache, long pendingFree, long leaked,
                       List<String> problems) {
        public boolean clean() {
            return problems.isEmpty();
        }
    }

    /** Messages only the host sends to itself. */
    non-sealed interface Internal extends HostCommand {
    }
}
