package io.shadowmmu.hostmm.mm;

import io.shadowmmu.config.NotifierSettings;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.DeliveryStrategy;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.notifier.SyncSubscriber;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.Vma;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The synchronous, lock-based delivery mode of the notifier protocol: the baseline that {@link MmActor}'s message
 * delivery is measured against (DESIGN.md section 7). It runs the same {@link AddressSpace}, {@link Gather} and
 * {@link DeliveryStrategy} message split as the actor, but on the caller's thread under one lock per mm (the 2008
 * kernel's {@code mmap_lock} held across the callbacks): subscribers are called directly and the caller waits for
 * each to return, so a sleeping subscriber holds every other operation of the mm for as long as it sleeps. Frames are
 * freed after every subscriber returned, as in the actor. Only private anonymous memory, no fork, no memory pressure:
 * enough for the benchmark's munmap, DONTNEED and fault cycles. Never used by the emulator's actors.
 */
public final class SynchronousMm {
    private final ReentrantLock lock = new ReentrantLock();
    private final AddressSpace space;
    private final PhysicalMemory memory;
    private final DeliveryStrategy strategy;
    private final int maxRangesPerMessage;
    private final Gather gather = new Gather();
    private final List<SyncSubscriber> subscribers = new CopyOnWriteArrayList<>();

    public SynchronousMm(HostContext host, String name) {
        this.memory = host.memory();
        this.space = new AddressSpace(MmIds.next(), AgentIds.next(), name, host.memory(), host.rmap(), host.swap(),
                new MmCounters());
        NotifierSettings n = host.settings().notifier();
        this.strategy = DeliveryStrategy.of(n.strategy());
        this.maxRangesPerMessage = n.maxRangesPerMessage();
    }

    public long id() {
        return space.id();
    }

    /** mmu_notifier_register: takes the lock, so no invalidation is half-seen. */
    public void subscribe(SyncSubscriber s) {
        lock.lock();
        try {
            subscribers.add(s);
        } finally {
            lock.unlock();
        }
    }

    /** Anonymous private read-write mapping of {@code length} bytes; returns its start. */
    public long mmap(long length) {
        long len = (length + PageTable.PAGE_SIZE - 1) & ~(PageTable.PAGE_SIZE - 1);
        lock.lock();
        try {
            long start = space.vmas().findFree(len);
            space.vmas().insert(new Vma(start, start + len, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0));
            return start;
        } finally {
            lock.unlock();
        }
    }

    /** The process touches one word (faulting it in); returns the value read or written. */
    public long access(long va, boolean write, long value) {
        lock.lock();
        try {
            gather.reset();
            int pfn = space.fault(va, write, gather);
            if (gather.frameCount() > 0) {
                notifyAndRelease(InvalidationEvent.CLEAR); // a copy-on-write copy replaced a frame
            }
            if (pfn < 0) {
                throw new IllegalStateException(space.lastDetail());
            }
            int word = (int) ((va & (PageTable.PAGE_SIZE - 1)) >>> 3);
            if (write) {
                memory.write(pfn, word, value);
                return value;
            }
            return memory.read(pfn, word);
        } finally {
            lock.unlock();
        }
    }

    /** madvise(MADV_DONTNEED): clear, tell every subscriber and wait for each, free. */
    public void dontneed(long start, long length) {
        lock.lock();
        try {
            gather.reset();
            space.clear(start, start + length, gather);
            notifyAndRelease(InvalidationEvent.CLEAR);
        } finally {
            lock.unlock();
        }
    }

    /** munmap: as {@link #dontneed}, and the mapping goes. */
    public void munmap(long start, long length) {
        lock.lock();
        try {
            space.vmas().remove(start, start + length);
            gather.reset();
            space.clear(start, start + length, gather);
            notifyAndRelease(InvalidationEvent.UNMAP);
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: start to every subscriber (each returns = acked), end to every one, then free the frames. */
    private void notifyAndRelease(InvalidationEvent event) {
        List<Range> ranges = gather.ranges();
        if (!ranges.isEmpty() && !subscribers.isEmpty()) {
            List<List<Range>> messages = strategy.messages(ranges, maxRangesPerMessage);
            for (SyncSubscriber s : subscribers) {
                for (List<Range> m : messages) {
                    s.invalidateStart(space.id(), m, event);
                }
            }
            for (SyncSubscriber s : subscribers) {
                for (List<Range> m : messages) {
                    s.invalidateEnd(space.id(), m);
                }
            }
        }
        for (int i = 0; i < gather.frameCount(); i++) {
            memory.put(gather.pfn(i));
        }
    }
}
