package io.shadowmmu.hostmm.mm;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.notifier.Gather;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.rmap.ReverseMap;
import io.shadowmmu.hostmm.swap.SwapStore;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.Vma;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The page tables and VMAs of one host process, and every change to them: faults, clears, protection changes and
 * the fork copy. Pure single-threaded logic owned by one {@link MmActor}; the actor decides when secondaries are told.
 *
 * <p>Every PTE that holds a frame holds one reference to it. A change that drops such a PTE records the page in a
 * {@link Gather} and moves its reference there, so the frame outlives the notification.
 */
public final class AddressSpace {
    /** Sentinel results of {@link #fault}; the reason is in {@link #lastErrno()} / {@link #lastDetail()}. */
    static final int FAULT_FAILED = -1;

    private final long id;
    private final long agent;
    private final String name;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final MmCounters counters;
    private final ReverseMap rmap;
    private final SwapStore swap;
    private final PageTable pageTable = new PageTable();
    private final io.shadowmmu.hostmm.vma.VmaTree vmas = new io.shadowmmu.hostmm.vma.VmaTree();
    private long mappedPages;

    private Errno lastErrno;
    private String lastDetail;

    AddressSpace(long id, long agent, String name, PhysicalMemory memory, ReverseMap rmap, SwapStore swap,
                 MmCounters counters) {
        this.id = id;
        this.agent = agent;
        this.name = name;
        this.memory = memory;
        this.events = memory.events();
        this.rmap = rmap;
        this.swap = swap;
        this.counters = counters;
    }

    /** A new, empty address space sharing this one's host tables (for fork). */
    AddressSpace sibling(long childId, long childAgent, String childName) {
        return new AddressSpace(childId, childAgent, childName, memory, rmap, swap, new MmCounters());
    }

    public long id() {
        return id;
    }

    long agent() {
        return agent;
    }

    String name() {
        return name;
    }

    public PageTable pageTable() {
        return pageTable;
    }

    io.shadowmmu.hostmm.vma.VmaTree vmas() {
        return vmas;
    }

    long mappedPages() {
        return mappedPages;
    }

    Errno lastErrno() {
        return lastErrno;
    }

    String lastDetail() {
        return lastDetail;
    }

    public MmCounters counters() {
        return counters;
    }

    // ---- faults ---------------------------------------------------------------------------------------------------

    /**
     * True when a fault with this access would replace a present PTE by a new frame (a copy-on-write copy), so
     * secondaries must be told before ({@code RANGE}) or after ({@code GATHER}) it.
     */
    boolean faultReplacesFrame(long va, boolean write) {
        if (!write) {
            return false;
        }
        // The PTE first: most faults find none (or a writable one) and need no VMA lookup.
        long pte = pageTable.get(va);
        if (!Pte.holdsFrame(pte) || Pte.isWritable(pte)) {
            return false;
        }
        Vma vma = vmas.find(va);
        return vma != null && vma.prot().writable() && needsCopy(vma, Pte.pfn(pte));
    }

    /**
     * Handles a fault ({@code handle_mm_fault}): makes {@code va} present with the requested access.
     *
     * @param gather receives the old frame when a copy-on-write copy replaced a present PTE
     * @return the pfn now mapped, or {@link #FAULT_FAILED}
     */
    int fault(long va, boolean write, Gather gather) {
        Vma vma = vmas.find(va);
        if (vma == null) {
            counters.segv++;
            return fail(Errno.SEGV_MAPERR, "no mapping at 0x" + Long.toHexString(va));
        }
        if (!vma.prot().allows(write)) {
            counters.segv++;
            return fail(Errno.SEGV_ACCERR, (write ? "write" : "read") + " to " + vma.prot() + " mapping at 0x"
                    + Long.toHexString(va));
        }
        long page = va & ~(PageTable.PAGE_SIZE - 1);
        long pte = pageTable.get(page);
        if (Pte.isProtNone(pte)) {
            // mprotect gave access back: the frame is still ours, make it present again.
            pte = (pte & ~Pte.PROT_NONE) | Pte.PRESENT;
            pageTable.set(page, pte);
        }
        if (Pte.isPresent(pte)) {
            if (!write || Pte.isWritable(pte)) {
                pageTable.setBits(page, write ? Pte.ACCESSED | Pte.DIRTY : Pte.ACCESSED);
                return Pte.pfn(pte);
            }
            return writeProtectFault(page, pte, vma, gather);
        }
        if (Pte.isSwap(pte)) {
            return swapIn(page, pte, vma, write);
        }
        if (Pte.isMigration(pte)) {
            return fail(Errno.EAGAIN, "page at 0x" + Long.toHexString(page) + " is being migrated");
        }
        return vma.kind().fileBacked() ? filePageIn(page, vma, write) : anonZeroFill(page, vma, write);
    }

    /** {@code do_swap_page}: a fresh frame with the slot's contents; this PTE's slot reference goes. */
    private int swapIn(long page, long pte, Vma vma, boolean write) {
        long slot = Pte.swapSlot(pte);
        long[] contents = swap.read(slot);
        if (contents == null) {
            return fail(Errno.EAGAIN, "swap slot " + slot + " is still being written");
        }
        int pfn = memory.allocate(id, PhysicalMemory.FLAG_ANON);
        if (pfn == PhysicalMemory.NO_FRAME) {
            counters.oom++;
            return fail(Errno.ENOMEM, "out of memory swapping in 0x" + Long.toHexString(page));
        }
        memory.restore(pfn, contents);
        install(page, Pte.make(pfn, vma.prot().writable()) | Pte.ACCESSED | (write ? Pte.DIRTY : 0), pfn);
        swap.free(slot);
        counters.swapIn++;
        return pfn;
    }

    private int anonZeroFill(long page, Vma vma, boolean write) {
        int pfn = memory.allocate(id, PhysicalMemory.FLAG_ANON);
        if (pfn == PhysicalMemory.NO_FRAME) {
            counters.oom++;
            return fail(Errno.ENOMEM, "out of memory zero-filling 0x" + Long.toHexString(page));
        }
        counters.anonZeroFill++;
        install(page, Pte.make(pfn, vma.prot().writable()) | Pte.ACCESSED | (write ? Pte.DIRTY : 0), pfn);
        return pfn;
    }

    private int filePageIn(long page, Vma vma, boolean write) {
        MemFile file = vma.file();
        long index = vma.filePage(page);
        int pfn = file.getPage(index);
        if (pfn == MemFile.BEYOND_EOF) {
            counters.sigbus++;
            return fail(Errno.SIGBUS, "page " + index + " is beyond the end of " + file);
        }
        if (pfn == MemFile.OUT_OF_MEMORY) {
            counters.oom++;
            return fail(Errno.ENOMEM, "out of memory reading page " + index + " of " + file);
        }
        counters.filePageIn++;
        if (vma.kind().shared()) {
            if (write) {
                memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY);
            }
            install(page, Pte.make(pfn, vma.prot().writable()) | Pte.ACCESSED | (write ? Pte.DIRTY : 0), pfn);
            return pfn;
        }
        if (!write) {
            // A private file mapping maps the page-cache page read-only; the first write copies it.
            install(page, Pte.make(pfn, false) | Pte.ACCESSED | (vma.prot().writable() ? Pte.COW : 0), pfn);
            return pfn;
        }
        int copy = memory.allocate(id, PhysicalMemory.FLAG_ANON);
        if (copy == PhysicalMemory.NO_FRAME) {
            memory.put(pfn);
            counters.oom++;
            return fail(Errno.ENOMEM, "out of memory copying page " + index + " of " + file);
        }
        memory.copy(pfn, copy);
        memory.put(pfn);
        counters.cowCopy++;
        install(page, Pte.make(copy, true) | Pte.ACCESSED | Pte.DIRTY, copy);
        return copy;
    }

    /** A write hit a present read-only PTE in a writable mapping ({@code do_wp_page}). */
    private int writeProtectFault(long page, long pte, Vma vma, Gather gather) {
        int old = Pte.pfn(pte);
        if (!needsCopy(vma, old)) {
            if (vma.kind().shared()) {
                counters.permissionUpgrade++;
            } else {
                counters.cowReuse++;
            }
            pageTable.set(page, (pte | Pte.WRITABLE | Pte.ACCESSED | Pte.DIRTY) & ~Pte.COW);
            if (vma.kind().shared()) {
                memory.setFlag(old, PhysicalMemory.FLAG_DIRTY);
            }
            return old;
        }
        int copy = memory.allocate(id, PhysicalMemory.FLAG_ANON);
        if (copy == PhysicalMemory.NO_FRAME) {
            counters.oom++;
            return fail(Errno.ENOMEM, "out of memory breaking copy-on-write at 0x" + Long.toHexString(page));
        }
        memory.copy(old, copy);
        if (memory.hasFlag(old, PhysicalMemory.FLAG_KSM)) {
            counters.ksmBroken++;
        }
        long previous = pageTable.getAndSet(page, Pte.make(copy, true) | Pte.ACCESSED | Pte.DIRTY);
        forget(page, previous);
        memory.mapped(copy);
        rmap.add(copy, id, page);
        mappedPages++;
        reportInstalled(page, copy, true);
        counters.cowCopy++;
        gather.changed(page);
        gather.release(page, old);
        return copy;
    }

    /**
     * Whether a write to {@code pfn} through {@code vma} must copy: private mappings copy unless the frame is an
     * anonymous page nobody else holds (then it is reused in place, {@code wp_page_reuse}).
     */
    private boolean needsCopy(Vma vma, int pfn) {
        if (vma.kind().shared()) {
            return false;
        }
        boolean anonOnlyOurs = memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON)
                && !memory.hasFlag(pfn, PhysicalMemory.FLAG_KSM) && memory.refcount(pfn) == 1;
        return !anonOnlyOurs;
    }

    private void install(long page, long pte, int pfn) {
        pageTable.set(page, pte);
        memory.mapped(pfn);
        rmap.add(pfn, id, page);
        mappedPages++;
        reportInstalled(page, pfn, Pte.isWritable(pte));
    }

    private void reportInstalled(long page, int pfn, boolean writable) {
        if (events.enabled()) {
            events.translationInstalled(agent, 0, id, page, pfn, memory.generation(pfn), writable);
        }
    }

    /** Bookkeeping for a frame-holding PTE that was just removed; the caller keeps or moves the reference. */
    private void forget(long page, long previous) {
        int pfn = Pte.pfn(previous);
        if (Pte.isDirty(previous)) {
            memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY);
        }
        memory.unmapped(pfn);
        rmap.remove(pfn, id, page);
        mappedPages--;
        if (events.enabled()) {
            events.translationRemoved(agent, 0, id, page, pfn, memory.generation(pfn));
        }
    }

    private int fail(Errno errno, String detail) {
        lastErrno = errno;
        lastDetail = name + ": " + detail;
        return FAULT_FAILED;
    }

    // ---- changes that secondaries must hear about -------------------------------------------------------------

    /** Clears every PTE in {@code [start, end)} ({@code zap_page_range}); frames go to the gather. */
    void clear(long start, long end, Gather gather) {
        pageTable.forEachEntry(start, end, (va, pte) -> {
            long last = pageTable.getAndClear(va);
            if (Pte.holdsFrame(last)) {
                forget(va, last);
                counters.ptesCleared++;
                gather.changed(va);
                gather.release(va, Pte.pfn(last));
            } else if (Pte.isSwap(last)) {
                swap.free(Pte.swapSlot(last));
            } else if (Pte.isMigration(last)) {
                // The migration entry held the mapping's reference. Secondaries may still translate the old frame
                // until they ack the migration's own invalidation, so the frame waits for this operation's acks too.
                gather.changed(va);
                gather.release(va, Pte.pfn(last));
            }
        });
    }

    /** {@code toPage} of {@link #fileRanges}: every page from {@code fromPage} on. */
    static final long TO_END_OF_FILE = Long.MAX_VALUE;

    /**
     * The address ranges mapping {@code file}'s pages with index in {@code [fromPage, toPage)}, in every mapping of
     * it (one range per mapping: a truncate or an eviction is one gather, not one per page).
     */
    List<Range> fileRanges(MemFile file, long fromPage, long toPage) {
        List<Range> ranges = new ArrayList<>();
        long firstByte = fromPage * PageTable.PAGE_SIZE;
        for (Vma vma : vmas.all()) {
            if (vma.file() != file) {
                continue;
            }
            long start = firstByte <= vma.fileOffset() ? vma.start() : vma.start() + (firstByte - vma.fileOffset());
            long end = vma.end();
            if (toPage != TO_END_OF_FILE) {
                long lastByte = toPage * PageTable.PAGE_SIZE;
                end = lastByte <= vma.fileOffset() ? vma.start() : Math.min(end, vma.start() + (lastByte - vma.fileOffset()));
            }
            if (start < end) {
                ranges.add(new Range(start, end));
            }
        }
        return ranges;
    }

    /**
     * Applies a lower protection to the PTEs of {@code [start, end)} ({@code change_protection}). Frames stay; pages
     * whose access shrank are recorded as changed.
     */
    void protect(long start, long end, Protection prot, Gather gather) {
        if (prot == Protection.READ_WRITE) {
            return; // upgrades happen lazily, on the next write fault
        }
        pageTable.forEachEntry(start, end, (va, pte) -> {
            if (!Pte.isPresent(pte)) {
                return;
            }
            long clearBits = prot == Protection.NONE ? Pte.PRESENT | Pte.WRITABLE : Pte.WRITABLE;
            if (prot == Protection.READ && !Pte.isWritable(pte)) {
                return;
            }
            long before = pageTable.clearBits(va, clearBits);
            if (Pte.isDirty(before)) {
                memory.setFlag(Pte.pfn(before), PhysicalMemory.FLAG_DIRTY);
            }
            if (prot == Protection.NONE) {
                pageTable.setBits(va, Pte.PROT_NONE);
            }
            gather.changed(va);
        });
    }

    /**
     * Copies this address space into {@code child} for fork ({@code dup_mmap} + {@code copy_page_range}): private
     * anonymous pages become shared read-only in both (the first write copies), shared and page-cache pages are not
     * copied (the child refaults them). Pages write-protected in the parent are recorded in {@code gather}.
     */
    void forkInto(AddressSpace child, Gather gather) {
        for (Vma vma : vmas.all()) {
            child.vmas.insert(vma);
            if (vma.file() != null) {
                vma.file().attach(child.id, MemFile.PENDING_MAPPER);
            }
            if (vma.kind().shared()) {
                continue;
            }
            pageTable.forEachEntry(vma.start(), vma.end(), (va, pte) -> {
                if (Pte.isSwap(pte)) {
                    swap.duplicate(Pte.swapSlot(pte));
                    child.pageTable.set(va, pte);
                    return;
                }
                if (!Pte.holdsFrame(pte)) {
                    return;
                }
                int pfn = Pte.pfn(pte);
                if (!memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON)) {
                    return;
                }
                long before = pageTable.clearBits(va, Pte.WRITABLE);
                if (Pte.isDirty(before)) {
                    memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY);
                }
                if (Pte.isWritable(before)) {
                    gather.changed(va);
                }
                pageTable.setBits(va, Pte.COW);
                memory.get(pfn);
                child.install(va, (before | Pte.COW) & ~(Pte.WRITABLE | Pte.ACCESSED | Pte.DIRTY), pfn);
            });
        }
    }

    // ---- memory pressure: swap-out, migration, KSM --------------------------------------------------------------

    /**
     * Whether {@code page} maps frame {@code pfn} of generation {@code generation}, as an exclusive anonymous page
     * (only this PTE holds it): the pages reclaim, migration and KSM move.
     */
    boolean mapsExclusiveAnon(long page, int pfn, int generation) {
        long pte = pageTable.get(page);
        return Pte.holdsFrame(pte) && Pte.pfn(pte) == pfn && memory.generation(pfn) == generation
                && memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON) && !memory.hasFlag(pfn, PhysicalMemory.FLAG_KSM)
                && memory.refcount(pfn) == 1;
    }

    /**
     * {@code try_to_unmap} for swap-out: the PTE becomes a swap entry naming a reserved slot; the frame moves to the
     * gather. The slot's contents are written when the invalidation completes, once no secondary can still write.
     *
     * @return the slot, or -1 when the page is not an exclusive anonymous page of that generation any more
     */
    long swapOut(long page, int pfn, int generation, Gather gather) {
        if (!mapsExclusiveAnon(page, pfn, generation)) {
            return -1;
        }
        long slot = swap.reserve();
        long last = pageTable.getAndSet(page, Pte.swapEntry(slot));
        forget(page, last);
        counters.swapOut++;
        gather.changed(page);
        gather.release(page, pfn);
        return slot;
    }

    /**
     * {@code try_to_unmap} of one mapping of a shared anonymous page (copy-on-write after fork, or KSM): the PTE
     * becomes a swap entry naming {@code slot}, which already holds the page's contents. Only a read-only mapping of a
     * frame whose contents still equal the slot's qualifies; then this mm's view of the page is the slot, whatever
     * becomes of the frame, and nobody can write the frame in place while others share it.
     *
     * @return false when this mapping is not a read-only mapping of that frame with those contents any more
     */
    boolean swapOutShared(long page, int pfn, int generation, long slot, Gather gather) {
        long pte = pageTable.get(page);
        if (!Pte.isPresent(pte) || Pte.isWritable(pte) || Pte.pfn(pte) != pfn || memory.generation(pfn) != generation
                || !memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON)) {
            return false;
        }
        long[] contents = swap.peek(slot);
        if (contents == null || !memory.sameContents(pfn, contents)) {
            return false;
        }
        swap.duplicate(slot);
        long last = pageTable.getAndSet(page, Pte.swapEntry(slot));
        forget(page, last);
        counters.swapOut++;
        gather.changed(page);
        gather.release(page, pfn);
        return true;
    }

    /**
     * First half of migration: the PTE becomes a migration entry that keeps the mapping's reference (faults wait for
     * the second half). Returns false when the page is not an exclusive anonymous page of that generation any more.
     */
    boolean migrationUnmap(long page, int pfn, int generation, Gather gather) {
        if (!mapsExclusiveAnon(page, pfn, generation)) {
            return false;
        }
        // The entry remembers whether the page was writable; hardware only ever adds accessed/dirty bits.
        long last = pageTable.getAndSet(page, Pte.migrationEntry(pfn) | (pageTable.get(page) & Pte.WRITABLE));
        forget(page, last);
        gather.changed(page);
        return true;
    }

    /**
     * Second half of migration, once every secondary dropped the old frame: copy to a new frame and map it; the old
     * frame loses the entry's reference. Returns the new pfn, or -1 when the entry is gone (unmapped meanwhile) or
     * memory ran out (then the old frame is mapped back).
     */
    int migrationRemap(long page, int oldPfn) {
        long entry = pageTable.get(page);
        if (!Pte.isMigration(entry) || Pte.pfn(entry) != oldPfn) {
            return -1;
        }
        boolean writable = Pte.isWritable(entry);
        int fresh = memory.allocate(id, PhysicalMemory.FLAG_ANON);
        if (fresh == PhysicalMemory.NO_FRAME) {
            install(page, Pte.make(oldPfn, writable) | Pte.ACCESSED, oldPfn);
            return -1;
        }
        memory.copy(oldPfn, fresh);
        if (memory.hasFlag(oldPfn, PhysicalMemory.FLAG_DIRTY)) {
            memory.setFlag(fresh, PhysicalMemory.FLAG_DIRTY);
        }
        install(page, Pte.make(fresh, writable) | Pte.ACCESSED, fresh);
        memory.put(oldPfn);
        counters.migrations++;
        return fresh;
    }

    /**
     * KSM's {@code write_protect_page}: the page becomes read-only so its contents are stable. Records the page as
     * changed when it was writable. False when the page is not that exclusive anonymous frame any more.
     */
    boolean writeProtect(long page, int pfn, int generation, Gather gather) {
        if (!mapsExclusiveAnon(page, pfn, generation)) {
            return false;
        }
        long before = pageTable.clearBits(page, Pte.WRITABLE);
        if (Pte.isDirty(before)) {
            memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY);
        }
        if (Pte.isWritable(before)) {
            gather.changed(page);
        }
        return true;
    }

    /**
     * KSM's {@code replace_page}: if {@code page} still maps the read-only frame {@code pfn} with the same contents
     * as the stable KSM frame {@code ksmPfn}, map the KSM frame instead; the old frame goes to the gather.
     */
    boolean replaceWithKsm(long page, int pfn, int generation, int ksmPfn, int ksmGeneration, Gather gather) {
        long pte = pageTable.get(page);
        if (!Pte.isPresent(pte) || Pte.isWritable(pte) || Pte.pfn(pte) != pfn
                || memory.generation(pfn) != generation || memory.generation(ksmPfn) != ksmGeneration
                || !memory.hasFlag(ksmPfn, PhysicalMemory.FLAG_KSM) || !memory.sameContents(pfn, ksmPfn)) {
            return false;
        }
        memory.get(ksmPfn);
        long previous = pageTable.getAndSet(page, Pte.make(ksmPfn, false) | Pte.COW);
        forget(page, previous);
        memory.mapped(ksmPfn);
        rmap.add(ksmPfn, id, page);
        mappedPages++;
        reportInstalled(page, ksmPfn, false);
        counters.ksmMerged++;
        gather.changed(page);
        gather.release(page, pfn);
        return true;
    }

    /** Frames referenced by this address space's PTEs (for the I5 audit). */
    int[] mappedFrames() {
        int[] out = new int[(int) Math.max(0, mappedPages)];
        int[] n = {0};
        for (Vma vma : vmas.all()) {
            pageTable.forEachEntry(vma.start(), vma.end(), (va, pte) -> {
                if (Pte.holdsFrame(pte) && n[0] < out.length) {
                    out[n[0]++] = Pte.pfn(pte);
                }
            });
        }
        return n[0] == out.length ? out : java.util.Arrays.copyOf(out, n[0]);
    }

    /** Files mapped by some VMA. */
    Set<MemFile> mappedFiles() {
        Set<MemFile> files = new HashSet<>();
        for (Vma vma : vmas.all()) {
            if (vma.file() != null) {
                files.add(vma.file());
            }
        }
        return files;
    }
}
