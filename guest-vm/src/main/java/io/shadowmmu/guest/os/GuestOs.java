package io.shadowmmu.guest.os;

import io.shadowmmu.hostmm.pagetable.Pte;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The guest kernel's memory management: a page allocator over guest RAM, processes with mappings and page tables,
 * demand paging, munmap, mprotect and a balloon. Each operation returns the guest-physical writes it needs
 * ({@link GuestWrites}) and never touches guest memory itself: the VM actor carries them out through KVM, then
 * shoots down its vCPUs' TLBs, and only then lets freed frames be reused ({@link #releaseFrames}).
 *
 * <p>Owned by one actor; not thread-safe.
 */
public final class GuestOs {
    private final GuestFrameAllocator allocator;
    private final Map<Integer, GuestProcess> processes = new HashMap<>();
    private int nextPid = 1;
    private long pageFaults;
    private long segvs;
    private long repairs;

    public GuestOs(long guestFrames) {
        this.allocator = new GuestFrameAllocator(guestFrames);
    }

    public GuestFrameAllocator allocator() {
        return allocator;
    }

    public GuestProcess process(int pid) {
        return processes.get(pid);
    }

    public List<GuestProcess> processes() {
        return List.copyOf(processes.values());
    }

    /** Creates a process with the given mappings and an empty page table; null if the guest is out of memory. */
    public GuestProcess spawn(String name, List<GuestVma> vmas, GuestWrites writes) {
        GuestPageTable pt = GuestPageTable.create(allocator, writes);
        if (pt == null) {
            return null;
        }
        GuestProcess p = new GuestProcess(nextPid++, name, pt, vmas);
        processes.put(p.pid(), p);
        return p;
    }

    /** The guest's page-fault handler ({@code do_page_fault}): demand-zero paging inside a mapping. */
    public GuestFaultResult pageFault(int pid, long gva, boolean write, GuestWrites writes) {
        pageFaults++;
        GuestProcess p = processes.get(pid);
        GuestVma vma = p == null ? null : p.vmaFor(gva);
        if (vma == null) {
            segvs++;
            return GuestFaultResult.SEGV_MAPERR;
        }
        if (write && !vma.writable()) {
            segvs++;
            return GuestFaultResult.SEGV_ACCERR;
        }
        long pte = p.pageTable().lookup(gva);
        if (Pte.isPresent(pte) && (!write || Pte.isWritable(pte))) {
            // The kernel's tables allow the access, yet the hardware faulted: guest memory no longer holds what
            // the kernel wrote there. Write the path again rather than fault forever.
            repairs++;
            p.pageTable().rewritePath(gva, writes);
            return GuestFaultResult.MAPPED;
        }
        if (Pte.isPresent(pte)) {
            // Present but read-only inside a writable mapping: restore write access.
            p.pageTable().protect(gva, true, writes);
            return GuestFaultResult.MAPPED;
        }
        long gfn = allocator.allocate();
        if (gfn == GuestFrameAllocator.NO_FRAME) {
            return GuestFaultResult.OOM;
        }
        // The golden copy treats a newly mapped page as unknown until written, so a reused gfn needs no zeroing.
        allocator.reused(gfn);
        if (!p.pageTable().map(gva, gfn, vma.writable(), allocator, writes)) {
            allocator.release(gfn);
            return GuestFaultResult.OOM;
        }
        return GuestFaultResult.MAPPED;
    }

    /**
     * munmap inside the guest: clears the leaf entries of {@code [start, end)} and removes the range from the
     * process's mappings. The frames go to {@code freed}; the caller releases them after the TLB shootdown.
     */
    public long unmap(int pid, long start, long end, GuestWrites writes, List<Long> freed) {
        GuestProcess p = processes.get(pid);
        if (p == null) {
            return 0;
        }
        long pages = 0;
        for (long va = start; va < end; va += GuestLayout.PAGE_SIZE) {
            long gfn = p.pageTable().unmap(va, writes);
            if (gfn != GuestPageTable.NOT_MAPPED) {
                freed.add(gfn);
                pages++;
            }
        }
        List<GuestVma> next = new ArrayList<>();
        for (GuestVma v : p.vmas()) {
            if (v.end() <= start || v.start() >= end) {
                next.add(v);
                continue;
            }
            if (v.start() < start) {
                next.add(new GuestVma(v.start(), start, v.writable()));
            }
            if (v.end() > end) {
                next.add(new GuestVma(end, v.end(), v.writable()));
            }
        }
        p.replaceVmas(next);
        return pages;
    }

    /** mprotect inside the guest: changes the mappings and the present leaf entries of {@code [start, end)}. */
    public long protect(int pid, long start, long end, boolean writable, GuestWrites writes) {
        GuestProcess p = processes.get(pid);
        if (p == null) {
            return 0;
        }
        long pages = 0;
        for (long va = start; va < end; va += GuestLayout.PAGE_SIZE) {
            if (p.pageTable().protect(va, writable, writes)) {
                pages++;
            }
        }
        List<GuestVma> next = new ArrayList<>();
        for (GuestVma v : p.vmas()) {
            if (v.end() <= start || v.start() >= end) {
                next.add(v);
                continue;
            }
            if (v.start() < start) {
                next.add(new GuestVma(v.start(), start, v.writable()));
            }
            next.add(new GuestVma(Math.max(start, v.start()), Math.min(end, v.end()), writable));
            if (v.end() > end) {
                next.add(new GuestVma(end, v.end(), v.writable()));
            }
        }
        p.replaceVmas(next);
        return pages;
    }

    /** Returns frames freed by an earlier unmap, once no TLB can hold them any more. */
    public void releaseFrames(List<Long> gfns) {
        for (long gfn : gfns) {
            allocator.release(gfn);
        }
    }

    /**
     * virtio-balloon inflate: takes up to {@code pages} free guest frames away from the guest so the host may drop
     * or remap their backing memory without the guest losing data.
     */
    public long[] inflateBalloon(int pages) {
        long[] out = new long[pages];
        int n = 0;
        while (n < pages) {
            long gfn = allocator.allocate();
            if (gfn == GuestFrameAllocator.NO_FRAME) {
                break;
            }
            allocator.reused(gfn);
            out[n++] = gfn;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Gives ballooned frames back to the guest. */
    public void deflateBalloon(long[] gfns) {
        for (long gfn : gfns) {
            allocator.release(gfn);
        }
    }

    public long pageFaults() {
        return pageFaults;
    }

    public long segvs() {
        return segvs;
    }

    /** Faults on entries the kernel had written but guest memory had lost (see {@link #pageFault}). */
    public long pageTableRepairs() {
        return repairs;
    }
}
