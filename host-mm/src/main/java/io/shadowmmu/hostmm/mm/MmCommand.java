package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.List;

/**
 * The protocol of {@link MmActor}, one actor per host process ({@code struct mm_struct}). Its mailbox is the
 * process's page-table lock: every PTE change happens inside one of its handlers.
 */
public sealed interface MmCommand {

    // ---- system calls of the process --------------------------------------------------------------------------

    /**
     * mmap. {@code address} 0 lets the mm choose; otherwise MAP_FIXED (replaces what is there). Replies the start.
     */
    record Mmap(long address, long length, Protection prot, VmaKind kind, MemFile file, long fileOffset,
                ActorRef<MmResult> replyTo) implements MmCommand {
        public static Mmap anonymous(long length, Protection prot, ActorRef<MmResult> replyTo) {
            return new Mmap(0, length, prot, VmaKind.ANON_PRIVATE, null, 0, replyTo);
        }
    }

    /** munmap. Replies once every secondary has dropped the range. */
    record Munmap(long address, long length, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /** mprotect. Replies once every secondary has dropped what the new protection forbids. */
    record Mprotect(long address, long length, Protection prot, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /** madvise(MADV_DONTNEED): drop the pages; the next touch refaults (zero-fill for private anonymous memory). */
    record MadviseDontneed(long address, long length, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * move_pages(2): move every exclusive anonymous page of the range to a new frame (one MIGRATE invalidation, the
     * contents copied once every secondary dropped the old frames). Replies the number of pages moved; pages that
     * are shared, unmapped or swapped are left where they are.
     */
    record MovePages(long address, long length, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * madvise(MADV_PAGEOUT): swap out every exclusive anonymous page of the range now (one CLEAR invalidation; the
     * contents go to swap and the frames are freed once every secondary acked). Replies the number of pages paged
     * out; the next touch swaps a page back in.
     */
    record MadvisePageout(long address, long length, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /** fork: a child mm with copy-on-write private memory. Replies once the child exists. */
    record Fork(String childName, ActorRef<ForkResult> replyTo) implements MmCommand {
    }

    /** exit: Release to every subscriber, unmap everything, then stop. */
    record Exit(ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * OOM-reaper style teardown of private anonymous memory with non-blockable notifications: if a subscriber
     * answers Nack, the reap is retried later; replies the number of pages reaped.
     */
    record OomReap(ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * The process's own CPU touches one 8-byte word at {@code va} (faulting it in if needed). A write stores
     * {@code value}; the reply carries the value read (or written).
     */
    record Access(long va, boolean write, long value, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * The process's own CPU touches several 8-byte words in one message, in order, faulting each page in as
     * {@link Access} would (a fault that must wait, on an invalidation in flight or on reclaim, holds back the rest),
     * and replies once: {@link MmResult.Words} with the value read or written at each address. Cheaper than one
     * {@code Access} per word when a caller has several to do (a thread touching its pages; issue 16). With an
     * unaligned address or a wrong number of values nothing is done (EINVAL); when access {@code i} fails, the
     * accesses before it are done and the reply is that failure. The arrays must not change once sent.
     *
     * @param values with {@code write}, the value to store at each address (the reply carries this array back);
     *               ignored for reads (may be null)
     */
    record Accesses(long[] vas, boolean write, long[] values, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    // ---- secondary MMU interface --------------------------------------------------------------------------------

    /**
     * get_user_pages for one page on behalf of a secondary: fault it in with the requested access and reply the pfn.
     */
    record GetUserPage(long va, boolean write, ActorRef<PageReply> replyTo) implements MmCommand {
    }

    /**
     * mmu_notifier_register / mmu_interval_notifier_insert. Handled between two messages, so no invalidation is
     * half-seen; the reply lists invalidations already in flight over the interest.
     *
     * @param agent       the subscriber's oracle agent id (its translations are revoked under it when fenced)
     * @param ackDeadline this subscriber's deadline, or null for the mm's default
     */
    record Register(ActorRef<MmuNotification> subscriber, Interest interest, long agent, String name,
                    Duration ackDeadline, ActorRef<Registered> replyTo) implements MmCommand {
    }

    record Unregister(long subscription, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /**
     * Reply to Register.
     *
     * @param pageTable the mm's page table as hardware sees it: walkable without messages (for device drop-ins)
     */
    record Registered(long mm, long subscription, AccessGrant grant, List<InFlight> inFlight,
                      io.shadowmmu.hostmm.pagetable.PageTableWalker pageTable) {
    }

    /** An invalidation the newcomer must treat as started: its End will follow like any other. */
    record InFlight(long batch, List<Range> ranges) {
    }

    /** Reply to Fork. */
    record ForkResult(MmResult status, long childMm, ActorRef<MmCommand> child) {
    }

    /**
     * Aging for reclaim ({@code folio_referenced} over one mm): was any page of {@code range} accessed, by the host
     * CPU (PTE accessed bit) or by any secondary ({@code clear_flush_young} / {@code test_young})? With
     * {@code clear}, accessed state is cleared everywhere. A subscriber that does not answer within its ack deadline
     * counts as "not young" (aging never fences).
     */
    record Age(Range range, boolean clear, ActorRef<AgeResult> replyTo) implements MmCommand {
    }

    /**
     * @param hostYoung        the primary PTEs had an accessed bit
     * @param secondariesYoung how many subscribers reported the range young
     */
    record AgeResult(Range range, boolean hostYoung, int secondariesYoung) {
        public boolean young() {
            return hostYoung || secondariesYoung > 0;
        }
    }

    // ---- memory pressure (sent by the host's reclaim, migration and KSM daemons) ----------------------------------

    /**
     * Swap out the exclusive anonymous page at {@code va} if it still maps frame {@code pfn} of {@code generation}:
     * unmap with a CLEAR invalidation, write the contents to swap once every secondary acked, free the frame.
     */
    record SwapOutPage(long va, int pfn, int generation, ActorRef<PressureDone> replyTo) implements MmCommand {
    }

    /**
     * Swap out this mm's mapping of a page several mappings share (copy-on-write after fork, or KSM) into {@code
     * slot}, whose contents the reclaimer already wrote from the frame it holds. Done only where the mapping is
     * read-only and the frame still holds exactly the slot's contents.
     */
    record SwapOutShared(long va, int pfn, int generation, long slot, ActorRef<PressureDone> replyTo)
            implements MmCommand {
    }

    /** Unmap file pages {@code [fromPage, toPage)} of {@code file} from this mm (page-cache reclaim). */
    record UnmapFilePages(MemFile file, long fromPage, long toPage, ActorRef<PressureDone> replyTo)
            implements MmCommand {
    }

    /** Move the exclusive anonymous page at {@code va} to a new frame (MIGRATE invalidation, copy, remap). */
    record MigratePage(long va, int pfn, int generation, ActorRef<PressureDone> replyTo) implements MmCommand {
    }

    /**
     * KSM step 1: write-protect the exclusive anonymous page at {@code va} (a CLEAR invalidation drops writable
     * secondary translations) and, with {@code makeKsm}, mark its frame as the stable KSM page.
     */
    record KsmWriteProtect(long va, int pfn, int generation, boolean makeKsm, ActorRef<PressureDone> replyTo)
            implements MmCommand {
    }

    /** KSM step 2: map the stable KSM frame at {@code va} in place of an identical write-protected page. */
    record KsmMerge(long va, int pfn, int generation, int ksmPfn, int ksmGeneration,
                    ActorRef<PressureDone> replyTo) implements MmCommand {
    }

    /**
     * Reply to the memory-pressure commands, sent once the invalidation completed.
     *
     * @param done false when the page changed meanwhile and nothing was done
     */
    record PressureDone(long mm, long va, boolean done, String why) {
    }

    // ---- inspection -----------------------------------------------------------------------------------------

    record GetStats(ActorRef<MmStats> replyTo) implements MmCommand {
    }

    /** Frames this mm holds a reference to, through PTEs or pending batches (for the I5 audit). */
    record GetFrameAudit(ActorRef<FrameAudit> replyTo) implements MmCommand {
    }

    record FrameAudit(long mm, int[] mappedPfns, int[] pendingPfns) {
    }

    // ---- host-internal -------------------------------------------------------------------------------------------

    /** From the host's truncate: unmap every page of {@code file} at index {@code >= fromPage}. */
    record UnmapFileRange(MemFile file, long fromPage, ActorRef<MmResult> replyTo) implements MmCommand {
    }

    /** Messages only the mm sends to itself (adapters, timers). */
    non-sealed interface Internal extends MmCommand {
    }
}
