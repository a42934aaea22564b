package io.shadowmmu.hostmm.mm;

import akka.actor.typed.ActorRef;
import io.shadowmmu.config.NotifierSettings;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.notifier.Batch;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmNotifier;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.Vma;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The system calls that change one mm's mappings: mmap, munmap, mprotect, madvise(MADV_DONTNEED), truncate, fork,
 * the OOM reaper and exit_mmap. Each goes through the notifier when someone subscribed and replies once no secondary
 * can still reach what it took away.
 */
final class Syscalls {

    /** An OOM reap a subscriber refused (non-blockable), tried again after a pause. */
    record RetryReap(ActorRef<MmResult> replyTo, int attempt) implements MmCommand.Internal {
    }

    private static final int MAX_REAP_ATTEMPTS = 20;

    private final MmParts parts;
    private final AddressSpace space;
    private final PhysicalMemory memory;
    private final MmNotifier notifier;
    private final Gather gather;
    private final NotifierSettings settings;

    Syscalls(MmParts parts) {
        this.parts = parts;
        this.space = parts.space();
        this.memory = parts.host().memory();
        this.notifier = parts.notifier();
        this.gather = parts.gather();
        this.settings = parts.host().settings().notifier();
    }

    void mmap(MmCommand.Mmap m) {
        long length = pageAlignUp(m.length());
        if (m.length() <= 0 || length <= 0 || length > PageTable.VA_LIMIT / 4) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "mmap length must be positive: " + m.length()));
            return;
        }
        if ((m.address() & (PageTable.PAGE_SIZE - 1)) != 0 || (m.fileOffset() & (PageTable.PAGE_SIZE - 1)) != 0) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "mmap address and offset must be page aligned"));
            return;
        }
        if (m.kind().fileBacked() && m.kind() != VmaKind.ANON_SHARED && m.file() == null) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, m.kind() + " mapping needs a file"));
            return;
        }
        long start = m.address() != 0 ? m.address() : space.vmas().findFree(length);
        if (start + length > PageTable.VA_LIMIT) {
            m.replyTo().tell(new MmResult.Failed(Errno.ENOMEM, "no room for " + length + " bytes"));
            return;
        }
        if (!space.vmas().isFree(start, start + length)) {
            m.replyTo().tell(new MmResult.Failed(Errno.EINVAL, "fixed mapping at 0x" + Long.toHexString(start)
                    + " overlaps an existing one (MAP_FIXED_NOREPLACE semantics)"));
            return;
        }
        MemFile file = m.file();
        if (m.kind() == VmaKind.ANON_SHARED) {
            file = new MemFile("shmem:" + space.name() + "@" + Long.toHexString(start), length, memory, true);
            parts.host().files().add(file);
        }
        space.vmas().insert(new Vma(start, start + length, m.prot(), m.kind(), file,
                m.kind() == VmaKind.ANON_SHARED ? 0 : m.fileOffset()));
        if (file != null) {
            file.attach(space.id(), parts.context().getSelf());
        }
        m.replyTo().tell(new MmResult.Done(start));
    }

    void munmap(MmCommand.Munmap m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        List<Vma> removed = space.vmas().remove(start, end);
        if (parts.notifierBypassed()) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        Runnable done = () -> {
            detachUnmappedFiles(removed);
            m.replyTo().tell(MmResult.Done.ZERO);
        };
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            done.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.UNMAP, List.of(new Range(start, end)), g -> space.clear(start, end, g), done);
    }

    void mprotect(MmCommand.Mprotect m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        if (!space.vmas().fullyMapped(start, end)) {
            m.replyTo().tell(new MmResult.Failed(Errno.SEGV_MAPERR, "mprotect of unmapped memory in [0x"
                    + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")"));
            return;
        }
        space.vmas().protect(start, end, m.prot());
        if (!notifier.hasSubscribers() || m.prot() == Protection.READ_WRITE) {
            gather.reset();
            space.protect(start, end, m.prot(), gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        notifier.changeThen(InvalidationEvent.PROTECTION_VMA, List.of(new Range(start, end)),
                g -> space.protect(start, end, m.prot(), g), () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    /** madvise(MADV_DONTNEED). */
    void dontneed(MmCommand.MadviseDontneed m) {
        long start = m.address();
        long end = start + pageAlignUp(m.length());
        if (!validRange(start, m.length(), m.replyTo())) {
            return;
        }
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.clear(start, end, gather);
            notifier.releaseNow(gather);
            m.replyTo().tell(MmResult.Done.ZERO);
            return;
        }
        notifier.changeThen(InvalidationEvent.CLEAR, List.of(new Range(start, end)), g -> space.clear(start, end, g),
                () -> m.replyTo().tell(MmResult.Done.ZERO));
    }

    /** truncate: every mapping of the file's pages past the new end goes. */
    void unmapFileRange(MmCommand.UnmapFileRange u) {
        clearFilePages(u.file(), u.fromPage(), AddressSpace.TO_END_OF_FILE,
                () -> u.replyTo().tell(MmResult.Done.ZERO));
    }

    /**
     * Clears the PTEs mapping {@code file}'s pages in {@code [fromPage, toPage)} (truncate, page-cache eviction),
     * then replies once no secondary can still reach them.
     */
    void clearFilePages(MemFile file, long fromPage, long toPage, Runnable reply) {
        List<Range> ranges = space.fileRanges(file, fromPage, toPage);
        Consumer<Gather> clear = g -> {
            for (Range r : ranges) {
                space.clear(r.start(), r.end(), g);
            }
        };
        if (ranges.isEmpty() || !notifier.hasSubscribers()) {
            gather.reset();
            clear.accept(gather);
            notifier.releaseNow(gather);
            reply.run();
            return;
        }
        notifier.changeThen(InvalidationEvent.CLEAR, ranges, clear, reply);
    }

    void fork(MmCommand.Fork f) {
        Batch migrating = notifier.migrationInFlight();
        if (migrating != null) {
            parts.park().park(migrating.id, f); // a page in migration has no frame to share yet: fork after it lands
            return;
        }
        long childId = MmIds.next();
        String childName = f.childName() != null ? f.childName() : space.name() + "-child";
        AddressSpace child = space.sibling(childId, AgentIds.next(), childName);
        Runnable adopt = () -> parts.hostActor().tell(new HostActor.AdoptForked(new ForkedChild(child), f.replyTo()));
        if (!notifier.hasSubscribers()) {
            gather.reset();
            space.forkInto(child, gather);
            adopt.run();
            return;
        }
        List<Range> privateRanges = new ArrayList<>();
        for (Vma vma : space.vmas().all()) {
            if (!vma.kind().shared()) {
                privateRanges.add(new Range(vma.start(), vma.end()));
            }
        }
        // The child may only run once no secondary can still write the now-shared frames through the parent.
        notifier.changeThen(InvalidationEvent.PROTECTION_PAGE, privateRanges, g -> space.forkInto(child, g), adopt);
    }

    void oomReap(MmCommand.OomReap r) {
        oomReap(r.replyTo(), 1);
    }

    void retryReap(RetryReap r) {
        oomReap(r.replyTo(), r.attempt());
    }

    /** Non-blockable teardown of private anonymous memory ({@code __oom_reap_task_mm}). */
    private void oomReap(ActorRef<MmResult> replyTo, int attempt) {
        List<Range> anon = new ArrayList<>();
        for (Vma vma : space.vmas().all()) {
            if (vma.kind() == VmaKind.ANON_PRIVATE) {
                anon.add(new Range(vma.start(), vma.end()));
            }
        }
        long before = space.mappedPages();
        Consumer<Gather> reap = g -> {
            for (Range r : anon) {
                space.clear(r.start(), r.end(), g);
            }
        };
        if (!notifier.hasSubscribers() || anon.isEmpty()) {
            gather.reset();
            reap.accept(gather);
            notifier.releaseNow(gather);
            replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            return;
        }
        notifier.nonBlockingChangeThen(InvalidationEvent.CLEAR, anon, reap, applied -> {
            if (applied) {
                replyTo.tell(new MmResult.Done(before - space.mappedPages()));
            } else if (attempt >= MAX_REAP_ATTEMPTS) {
                replyTo.tell(new MmResult.Failed(Errno.EAGAIN, "a subscriber refused non-blocking invalidation "
                        + attempt + " times"));
            } else {
                parts.timers().startSingleTimer(new RetryReap(replyTo, attempt + 1), settings.nackRetryDelay());
            }
        });
    }

    /** exit_mmap: with no subscriber left, unmap everything and free at once. */
    void teardown() {
        gather.reset();
        List<Vma> all = List.copyOf(space.vmas().all());
        for (Vma vma : all) {
            space.clear(vma.start(), vma.end(), gather);
        }
        space.vmas().clear();
        notifier.releaseNow(gather);
        detachUnmappedFiles(all);
    }

    private void detachUnmappedFiles(List<Vma> removed) {
        Set<MemFile> stillMapped = space.mappedFiles();
        for (Vma v : removed) {
            if (v.file() != null && !stillMapped.contains(v.file())) {
                for (int pfn : v.file().detach(space.id())) {
                    memory.put(pfn);
                }
                if (v.file().anonymous() && v.file().mappers().isEmpty()) {
                    parts.host().files().remove(v.file());
                }
            }
        }
    }

    /** False (and the caller told EINVAL) unless {@code [start, start + length)} is a page-aligned user range. */
    static boolean validRange(long start, long length, ActorRef<MmResult> replyTo) {
        if ((start & (PageTable.PAGE_SIZE - 1)) != 0 || length <= 0 || start < 0
                || start + length > PageTable.VA_LIMIT) {
            replyTo.tell(new MmResult.Failed(Errno.EINVAL, "bad range: address 0x" + Long.toHexString(start)
                    + " length " + length + " (address must be page aligned, length positive)"));
            return false;
        }
        return true;
    }

    static long pageAlignUp(long length) {
        return (length + PageTable.PAGE_SIZE - 1) & ~(PageTable.PAGE_SIZE - 1);
    }
}
