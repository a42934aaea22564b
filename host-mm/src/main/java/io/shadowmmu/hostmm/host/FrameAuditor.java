package io.shadowmmu.hostmm.host;

import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * The I5 audit: counts every reference the host can account for (PTEs, page caches, pending-free batches, frames a
 * pressure daemon isolated) and checks
 * each frame's reference count against it, and the reverse map against the page tables. Exact only at a quiescent
 * point.
 */
final class FrameAuditor {
    private static final int MAX_PROBLEMS = 20;

    private FrameAuditor() {
    }

    static HostCommand.AuditReport audit(HostContext host, List<MmCommand.FrameAudit> audits) {
        PhysicalMemory memory = host.memory();
        int frames = memory.totalFrames();
        int[] refs = new int[frames];
        boolean[] mapped = new boolean[frames];
        boolean[] cached = new boolean[frames];
        boolean[] pending = new boolean[frames];
        for (MmCommand.FrameAudit a : audits) {
            for (int pfn : a.mappedPfns()) {
                refs[pfn]++;
                mapped[pfn] = true;
            }
            for (int pfn : a.pendingPfns()) {
                refs[pfn]++;
                pending[pfn] = true;
            }
        }
        for (MemFile f : host.files()) {
            for (Integer pfn : f.cacheView().values()) {
                refs[pfn]++;
                cached[pfn] = true;
            }
        }
        for (int pfn = 0; pfn < frames; pfn++) {
            refs[pfn] += host.isolated().count(pfn);
        }
        List<String> problems = new ArrayList<>();
        long allocated = 0;
        long nMapped = 0;
        long nCached = 0;
        long nPending = 0;
        long leaked = 0;
        for (int pfn = 0; pfn < frames; pfn++) {
            int actual = memory.refcount(pfn);
            if (actual > 0) {
                allocated++;
            }
            if (mapped[pfn]) {
                nMapped++;
            } else if (cached[pfn]) {
                nCached++;
            } else if (pending[pfn]) {
                nPending++;
            }
            if (actual > 0 && refs[pfn] == 0) {
                leaked++;
                note(problems, "frame " + pfn + " leaked: refcount " + actual + ", owner " + memory.owner(pfn)
                        + ", referenced by no PTE, page cache, pending batch or pressure daemon");
            } else if (actual != refs[pfn]) {
                note(problems, "frame " + pfn + " refcount " + actual + " but " + refs[pfn]
                        + " references found (owner " + memory.owner(pfn) + ")");
            }
        }
        int[] pteMaps = new int[frames];
        for (MmCommand.FrameAudit a : audits) {
            for (int pfn : a.mappedPfns()) {
                pteMaps[pfn]++;
            }
        }
        for (int pfn = 0; pfn < frames; pfn++) {
            int recorded = host.rmap().count(pfn);
            if (recorded != pteMaps[pfn]) {
                note(problems, "frame " + pfn + ": reverse map records " + recorded + " mappings but "
                        + pteMaps[pfn] + " PTEs map it");
            }
        }
        long free = memory.freeFrames();
        if (allocated + free != frames) {
            note(problems, "allocated " + allocated + " + free " + free + " != total " + frames);
        }
        return new HostCommand.AuditReport(allocated, free, nMapped, nCached, nPending, leaked, problems);
    }

    private static void note(List<String> problems, String p) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(p);
        }
    }
}
