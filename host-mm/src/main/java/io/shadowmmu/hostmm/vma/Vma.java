package io.shadowmmu.hostmm.vma;

import io.shadowmmu.hostmm.file.MemFile;

/**
 * A virtual memory area ({@code struct vm_area_struct}): a page-aligned range with one protection and one backing.
 *
 * @param fileOffset byte offset in {@code file} of {@code start} (0 for private anonymous memory)
 */
public record Vma(long start, long end, Protection prot, VmaKind kind, MemFile file, long fileOffset) {
    public static final long PAGE_SIZE = 4096;

    public Vma {
        if (start >= end || (start & (PAGE_SIZE - 1)) != 0 || (end & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("bad vma bounds " + Long.toHexString(start) + "-" + Long.toHexString(end));
        }
        if (kind.fileBacked() && file == null) {
            throw new IllegalArgumentException(kind + " needs a file");
        }
    }

    public boolean contains(long va) {
        return va >= start && va < end;
    }

    /** Page index in the file of the page holding {@code va}. */
    public long filePage(long va) {
        return (fileOffset + (va - start)) / PAGE_SIZE;
    }

    /** Address of file page {@code index} in this mapping, or -1 when the mapping does not cover it. */
    public long addressOfFilePage(long index) {
        long va = start + index * PAGE_SIZE - fileOffset;
        return va >= start && va < end ? va : -1;
    }

    /** The part of this VMA in {@code [from, to)}, keeping the file offset right. */
    public Vma slice(long from, long to) {
        long s = Math.max(start, from);
        long e = Math.min(end, to);
        return new Vma(s, e, prot, kind, file, fileOffset + (s - start));
    }

    public Vma withProt(Protection p) {
        return new Vma(start, end, p, kind, file, fileOffset);
    }

    @Override
    public String toString() {
        return "vma[0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end) + " " + prot + " " + kind
                + (file != null ? " " + file.name() : "") + "]";
    }
}
