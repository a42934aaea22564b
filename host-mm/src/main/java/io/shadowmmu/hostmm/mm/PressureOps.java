package io.shadowmmu.hostmm.mm;

import io.shadowmmu.hostmm.notifier.Batch;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmNotifier;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * What the memory-pressure daemons and their system calls ask of one mm: aging ({@code clear_young}), swap-out
 * ({@code try_to_unmap} on behalf of kswapd), page-cache eviction, migration ({@code migrate_pages}, move_pages(2)),
 * MADV_PAGEOUT, and KSM's write-protect and merge. Each one-page change is done under the notifier, and the daemon
 * hears back once no secondary can reach the old frame.
 */
final class PressureOps {
    private final MmParts parts;
    private final AddressSpace space;
    private final PhysicalMemory memory;
    private final MmNotifier notifier;
    private final Gather gather;
    private final Syscalls syscalls;

    PressureOps(MmParts parts, Syscalls syscalls) {
        this.parts = parts;
        this.space = parts.space();
        this.memory = parts.host().memory();
        this.notifier = parts.notifier();
        this.gather = parts.gather();
        this.syscalls = syscalls;
    }

    /** Page aging: the host's accessed bit, and every secondary's ({@code mmu_notifier_clear_young}). */
    void age(MmCommand.Age a) {
        notifier.age(a);
    }

    void swapOut(MmCommand.SwapOutPage c) {
        long page = c.va() & ~(PageTable.PAGE_SIZE - 1);
        long[] slot = {-1};
        int[] pfn = {c.pfn()};
        Consumer<Gather> apply = g -> slot[0] = space.swapOut(page, c.pfn(), c.generation(), g);
        // The contents go to swap only once no secondary can still write the frame.
        Runnable writeBack = () -> {
            if (slot[0] >= 0) {
                parts.host().swap().write(slot[0], memory.snapshot(pfn[0]));
            }
        };
        Runnable reply = () -> c.replyTo().tell(new MmCommand.PressureDone(space.id(), page, slot[0] >= 0,
                slot[0] >= 0 ? "swapped out" : "page changed"));
        pressureChange(page, apply, writeBack, reply);
    }

    void swapOutShared(MmCommand.SwapOutShared c) {
        long page = c.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] done = {false};
        Consumer<Gather> apply = g -> done[0] = space.swapOutShared(page, c.pfn(), c.generation(), c.slot(), g);
        Runnable reply = () -> c.replyTo().tell(new MmCommand.PressureDone(space.id(), page, done[0],
                done[0] ? "swapped out" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    /** Page-cache reclaim: the file's pages leave every mapping before they leave the cache. */
    void unmapFilePages(MmCommand.UnmapFilePages u) {
        syscalls.clearFilePages(u.file(), u.fromPage(), u.toPage(),
                () -> u.replyTo().tell(new MmCommand.PressureDone(space.id(), -1, true, "unmapped")));
    }

    void migrate(MmCommand.MigratePage m) {
        long page = m.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] unmapped = {false};
        Consumer<Gather> apply = g -> unmapped[0] = space.migrationUnmap(page, m.pfn(), m.generation(), g);
        Runnable finish = () -> {
            int fresh = unmapped[0] ? space.migrationRemap(page, m.pfn()) : -1;
            m.replyTo().tell(new MmCommand.PressureDone(space.id(), page, fresh >= 0,
                    fresh >= 0 ? "migrated to " + fresh : "page changed"));
        };
        if (!notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            finish.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.MIGRATE, List.of(new Range(page, page + PageTable.PAGE_SIZE)),
                true, apply, null);
        if (b == null) {
            finish.run();
        } else {
            b.onComplete(finish);
        }
    }

    /** The exclusive anonymous pages of {@code [start, end)}: {page, pfn, generation} each. */
    private List<long[]> exclusiveAnonPages(long start, long end) {
        List<long[]> pages = new ArrayList<>();
        for (long page = start; page < end; page += PageTable.PAGE_SIZE) {
            long pte = space.pageTable().get(page);
            if (Pte.holdsFrame(pte)) {
                int pfn = Pte.pfn(pte);
                if (space.mapsExclusiveAnon(page, pfn, memory.generation(pfn))) {
                    pages.add(new long[] {page, pfn, memory.generation(pfn)});
                }
            }
        }
        return pages;
    }

    /** MADV_PAGEOUT: the range's exclusive anonymous pages go to swap in one CLEAR batch. */
    void pageout(MmCommand.MadvisePageout m) {
        long start = m.address();
        long end = start + Syscalls.pageAlignUp(m.length());
        if (!Syscalls.validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<long[]> candidates = exclusiveAnonPages(start, end);
        List<long[]> out = new ArrayList<>(); // {slot, pfn}
        Consumer<Gather> apply = g -> {
            for (long[] c : candidates) {
                long slot = space.swapOut(c[0], (int) c[1], (int) c[2], g);
                if (slot >= 0) {
                    out.add(new long[] {slot, c[1]});
                }
            }
        };
        // The contents go to swap only once no secondary can still write the frames.
        Runnable writeBack = () -> {
            for (long[] o : out) {
                parts.host().swap().write(o[0], memory.snapshot((int) o[1]));
            }
        };
        Runnable reply = () -> m.replyTo().tell(new MmResult.Done(out.size()));
        if (candidates.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            writeBack.run();
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.CLEAR, List.of(new Range(start, end)), true, apply, writeBack);
        if (b == null) {
            reply.run();
        } else {
            b.onComplete(reply);
        }
    }

    /** move_pages(2) over a range: one MIGRATE batch, then each moved page is copied and remapped. */
    void movePages(MmCommand.MovePages m) {
        long start = m.address();
        long end = start + Syscalls.pageAlignUp(m.length());
        if (!Syscalls.validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<long[]> candidates = exclusiveAnonPages(start, end);
        List<long[]> unmapped = new ArrayList<>();
        Consumer<Gather> apply = g -> {
            for (long[] c : candidates) {
                if (space.migrationUnmap(c[0], (int) c[1], (int) c[2], g)) {
                    unmapped.add(c);
                }
            }
        };
        Runnable finish = () -> {
            long moved = 0;
            for (long[] c : unmapped) {
                if (space.migrationRemap(c[0], (int) c[1]) >= 0) {
                    moved++;
                }
            }
            m.replyTo().tell(new MmResult.Done(moved));
        };
        if (candidates.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            finish.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.MIGRATE, List.of(new Range(start, end)), apply, finish);
    }

    void ksmWriteProtect(MmCommand.KsmWriteProtect k) {
        long page = k.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] ok = {false};
        Consumer<Gather> apply = g -> {
            ok[0] = space.writeProtect(page, k.pfn(), k.generation(), g);
            if (ok[0] && k.makeKsm()) {
                memory.setFlag(k.pfn(), PhysicalMemory.FLAG_KSM);
            }
        };
        Runnable reply = () -> k.replyTo().tell(new MmCommand.PressureDone(space.id(), page, ok[0],
                ok[0] ? "write-protected" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    void ksmMerge(MmCommand.KsmMerge k) {
        long page = k.va() & ~(PageTable.PAGE_SIZE - 1);
        boolean[] ok = {false};
        Consumer<Gather> apply = g -> ok[0] = space.replaceWithKsm(page, k.pfn(), k.generation(), k.ksmPfn(),
                k.ksmGeneration(), g);
        Runnable reply = () -> k.replyTo().tell(new MmCommand.PressureDone(space.id(), page, ok[0],
                ok[0] ? "merged" : "page changed"));
        pressureChange(page, apply, null, reply);
    }

    /** A one-page change on behalf of a memory-pressure daemon; {@code beforeRelease} sees the held frame. */
    private void pressureChange(long page, Consumer<Gather> apply, Runnable beforeRelease, Runnable reply) {
        if (!notifier.hasSubscribers()) {
            gather.reset();
            apply.accept(gather);
            if (beforeRelease != null) {
                beforeRelease.run();
            }
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        Batch b = notifier.change(InvalidationEvent.CLEAR, List.of(new Range(page, page + PageTable.PAGE_SIZE)),
                true, apply, beforeRelease);
        if (b == null) {
            reply.run();
        } else {
            b.onComplete(reply);
        }
    }
}
