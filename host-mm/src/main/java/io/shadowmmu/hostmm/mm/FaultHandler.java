package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import io.shadowmmu.config.PressureSettings;
import io.shadowmmu.hostmm.notifier.Batch;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmNotifier;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Page faults of one mm ({@code handle_mm_fault} / {@code get_user_pages}): CPU accesses and a secondary's request
 * for a page. A fault waits for an invalidation in flight over its page, breaks copy-on-write through the notifier,
 * and waits for reclaim when no frame is free.
 */
final class FaultHandler {

    /** A fault that found no free frame, tried again once reclaim had time to free some. */
    record RetryFault(MmCommand cause, int attempt) implements MmCommand.Internal {
    }

    /**
     * What an {@link MmCommand.Accesses} still has to do, and the message that waits in its place when one of its
     * faults must (parked, or retried after reclaim): handling it again resumes at access {@code next}. One per
     * command, made when it starts; only the mm holds it.
     */
    static final class AccessesFrom implements MmCommand.Internal {
        final MmCommand.Accesses cmd;
        final long[] results;
        int next;

        AccessesFrom(MmCommand.Accesses cmd, long[] results) {
            this.cmd = cmd;
            this.results = results;
        }
    }

    private static final int PARKED = -100;

    private final MmParts parts;
    private final AddressSpace space;
    private final MmCounters counters;
    private final PhysicalMemory memory;
    private final MmNotifier notifier;
    private final Gather gather;
    /** Longest delay of a delayed get_user_pages answer in nanoseconds; 0: every answer goes at once. */
    private final long replyJitterNanos;
    private final double replyJitterFraction;
    private final SplittableRandom replyJitter;
    /** Attempt number of the fault being re-run after an out-of-memory wait; 0 for a fresh one. */
    private int faultAttempt;

    FaultHandler(MmParts parts) {
        this.parts = parts;
        this.space = parts.space();
        this.counters = parts.counters();
        this.memory = parts.host().memory();
        this.notifier = parts.notifier();
        this.gather = parts.gather();
        this.replyJitterNanos = parts.host().settings().host().faultReplyJitter().toNanos();
        this.replyJitterFraction = parts.host().settings().host().faultReplyJitterFraction();
        this.replyJitter = new SplittableRandom(parts.host().settings().seed() * 0x9E3779B97F4A7C15L + space.id());
    }

    /** Runs {@code r}'s fault again through {@code dispatch}, as attempt {@code r.attempt()}. */
    void retry(RetryFault r, Consumer<MmCommand> dispatch) {
        faultAttempt = r.attempt();
        dispatch.accept(r.cause());
        faultAttempt = 0;
    }

    void access(MmCommand.Access a) {
        if ((a.va() & 7) != 0 || a.va() < 0) {
            a.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "access must be an aligned 8-byte word: 0x"
                    + Long.toHexString(a.va())));
            return;
        }
        int pfn = resolve(a, a.va(), a.write());
        if (pfn == PARKED) {
            return;
        }
        if (pfn < 0) {
            a.replyTo().tell(new MmResult.Failed(space.lastErrno(), space.lastDetail()));
            return;
        }
        int word = (int) ((a.va() & (PageTable.PAGE_SIZE - 1)) >>> 3);
        if (a.write()) {
            memory.write(pfn, word, a.value());
            a.replyTo().tell(new MmResult.Done(a.value()));
        } else {
            a.replyTo().tell(new MmResult.Done(memory.read(pfn, word)));
        }
    }

    void accesses(MmCommand.Accesses a) {
        long[] vas = a.vas();
        if (a.write() && (a.values() == null || a.values().length != vas.length)) {
            a.replyTo().tell(new MmResult.Failed(Errno.EINVAL, vas.length + " writes need as many values"));
            return;
        }
        for (long va : vas) {
            if ((va & 7) != 0 || va < 0) {
                a.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "access must be an aligned 8-byte word: 0x"
                        + Long.toHexString(va)));
                return;
            }
        }
        resume(new AccessesFrom(a, a.write() ? a.values() : new long[vas.length]));
    }

    /** Runs the accesses of {@code r} from {@code r.next} on, until they are done, one fails or one must wait. */
    void resume(AccessesFrom r) {
        MmCommand.Accesses a = r.cmd;
        long[] vas = a.vas();
        while (r.next < vas.length) {
            long va = vas[r.next];
            int pfn = resolve(r, va, a.write());
            if (pfn == PARKED) {
                return;
            }
            if (pfn < 0) {
                a.replyTo().tell(new MmResult.Failed(space.lastErrno(), "access " + r.next + " of " + vas.length
                        + ": " + space.lastDetail()));
                return;
            }
            int word = (int) ((va & (PageTable.PAGE_SIZE - 1)) >>> 3);
            if (a.write()) {
                memory.write(pfn, word, a.values()[r.next]);
            } else {
                r.results[r.next] = memory.read(pfn, word);
            }
            r.next++;
        }
        a.replyTo().tell(new MmResult.Words(r.results));
    }

    /** get_user_pages on behalf of a secondary MMU. */
    void getUserPage(MmCommand.GetUserPage g) {
        int pfn = resolve(g, g.va(), g.write());
        if (pfn == PARKED) {
            return;
        }
        long page = g.va() & ~(PageTable.PAGE_SIZE - 1);
        if (pfn < 0) {
            g.replyTo().tell(new PageReply.Denied(page, space.lastErrno(), space.lastDetail()));
        } else {
            boolean writable = Pte.isWritable(space.pageTable().get(page));
            answer(g.replyTo(), new PageReply.Granted(page, pfn, memory.generation(pfn), writable));
        }
    }

    /**
     * Sends a granted page, now or (host.fault-reply-jitter) after a seeded delay: the answer is decided here, so
     * an invalidation may run and free the frame before the faulting secondary sees it, as between
     * {@code hva_to_pfn} returning and KVM taking {@code mmu_lock}. The secondary's sequence re-check covers that.
     */
    private void answer(ActorRef<PageReply> replyTo, PageReply.Granted reply) {
        if (replyJitterNanos > 0 && replyJitter.nextDouble() < replyJitterFraction) {
            counters.repliesDelayed++;
            parts.context().scheduleOnce(Duration.ofNanos(1 + replyJitter.nextLong(replyJitterNanos)), replyTo, reply);
        } else {
            replyTo.tell(reply);
        }
    }

    /**
     * Makes {@code va} accessible for {@code cause}. A fault on a range whose invalidation is still in flight waits
     * for it (like a fault waiting on the page lock); a copy-on-write copy that replaces a frame some subscriber may
     * cache goes through the notifier and the fault is retried when it completes ({@code VM_FAULT_RETRY}).
     */
    private int resolve(MmCommand cause, long va, boolean write) {
        if (!parts.notifierBypassed()) {
            Batch inFlight = notifier.inFlightOver(va);
            if (inFlight != null) {
                parts.park().park(inFlight.id, cause);
                return PARKED;
            }
            if (notifier.hasSubscribers() && space.faultReplacesFrame(va, write)) {
                long page = va & ~(PageTable.PAGE_SIZE - 1);
                int[] pfn = {AddressSpace.FAULT_FAILED};
                Batch b = notifier.change(InvalidationEvent.CLEAR,
                        List.of(new Range(page, page + PageTable.PAGE_SIZE)), true,
                        g -> pfn[0] = space.fault(va, write, g), null);
                if (b != null) {
                    parts.park().park(b.id, cause);
                    return PARKED;
                }
                return orWaitForReclaim(cause, pfn[0]); // no frame for the copy yet: wait like any other fault
            }
        }
        gather.reset();
        int pfn = space.fault(va, write, gather);
        notifier.releaseNow(gather);
        return orWaitForReclaim(cause, pfn);
    }

    /** The fault's answer, or PARKED when it failed for want of a frame and waits for reclaim. */
    private int orWaitForReclaim(MmCommand cause, int pfn) {
        if (pfn == AddressSpace.FAULT_FAILED && space.lastErrno() == Errno.ENOMEM && waitForReclaim(cause)) {
            return PARKED;
        }
        return pfn;
    }

    /**
     * Out of memory: with reclaim on, the fault waits (a timer, not a blocked thread) and retries, as a task in
     * direct reclaim would; past the retry limit it fails with ENOMEM.
     */
    private boolean waitForReclaim(MmCommand cause) {
        PressureSettings p = parts.host().settings().pressure();
        if (!p.reclaimEnabled() || faultAttempt >= p.oomRetryLimit()) {
            return false;
        }
        counters.oomWaits++;
        parts.timers().startSingleTimer(new Object(), new RetryFault(cause, faultAttempt + 1), p.oomRetryInterval());
        return true;
    }
}
