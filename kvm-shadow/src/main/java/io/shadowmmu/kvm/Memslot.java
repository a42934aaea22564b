package io.shadowmmu.kvm;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A memslot ({@code struct kvm_memory_slot}): guest frames {@code [baseGfn, baseGfn + pages)} backed by host virtual
 * addresses {@code [hva, hva + pages * 4096)} of the VM's host process. Several slots may alias the same host range
 * at different guest addresses. Dirty logging keeps one bit per page.
 */
public final class Memslot {
    public static final long PAGE = 4096;

    private final int id;
    private final long baseGfn;
    private final long pages;
    private final long hva;
    private final boolean readOnly;
    private volatile boolean dirtyLogging;
    private final AtomicLongArray dirtyBitmap;

    public Memslot(int id, long baseGfn, long pages, long hva, boolean readOnly) {
        if (pages <= 0 || baseGfn < 0 || (hva & (PAGE - 1)) != 0) {
            throw new IllegalArgumentException("bad memslot " + id + ": gfn " + baseGfn + " pages " + pages
                    + " hva 0x" + Long.toHexString(hva));
        }
        this.id = id;
        this.baseGfn = baseGfn;
        this.pages = pages;
        this.hva = hva;
        this.readOnly = readOnly;
        this.dirtyBitmap = new AtomicLongArray((int) ((pages + 63) / 64));
    }

    public int id() {
        return id;
    }

    public long baseGfn() {
        return baseGfn;
    }

    public long pages() {
        return pages;
    }

    public long hva() {
        return hva;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public boolean dirtyLogging() {
        return dirtyLogging;
    }

    void setDirtyLogging(boolean on) {
        dirtyLogging = on;
    }

    public boolean containsGfn(long gfn) {
        return gfn >= baseGfn && gfn < baseGfn + pages;
    }

    /** {@code __gfn_to_hva_memslot}. */
    public long hvaOf(long gfn) {
        return hva + (gfn - baseGfn) * PAGE;
    }

    /** The guest frames backed by host range {@code [start, end)}, clipped to this slot: {first, endExclusive}. */
    public long[] gfnsOfHvaRange(long start, long end) {
        long s = Math.max(start, hva);
        long e = Math.min(end, hva + pages * PAGE);
        if (s >= e) {
            return null;
        }
        long first = baseGfn + (s - hva) / PAGE;
        long last = baseGfn + (e - hva + PAGE - 1) / PAGE;
        return new long[] {first, last};
    }

    void markDirty(long gfn) {
        long i = gfn - baseGfn;
        int word = (int) (i >>> 6);
        long bit = 1L << (i & 63);
        long w;
        do {
            w = dirtyBitmap.get(word);
        } while ((w & bit) == 0 && !dirtyBitmap.compareAndSet(word, w, w | bit));
    }

    /** {@code KVM_GET_DIRTY_LOG}: the bitmap, cleared. */
    long[] takeDirtyBitmap() {
        long[] out = new long[dirtyBitmap.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = dirtyBitmap.getAndSet(i, 0);
        }
        return out;
    }

    @Override
    public String toString() {
        return "memslot " + id + " [gfn " + baseGfn + "+" + pages + " -> hva 0x" + Long.toHexString(hva) + "]";
    }
}
