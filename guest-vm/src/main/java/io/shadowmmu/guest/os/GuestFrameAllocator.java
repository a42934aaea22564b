package io.shadowmmu.guest.os;

import java.util.Arrays;

/**
 * The guest kernel's page allocator over guest physical frames {@code [0, frames)}. A LIFO stack of free gfns so
 * freed pages are reused first, like the per-cpu free lists of a real kernel (and so the host sees guest frames come
 * back). Owned by the guest OS actor; not thread-safe.
 */
public final class GuestFrameAllocator {
    public static final long NO_FRAME = -1;

    private final long frames;
    private long[] free;
    private int top;
    private final boolean[] used;
    private final boolean[] everUsed;

    public GuestFrameAllocator(long frames) {
        if (frames <= 0 || frames > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("guest frames must be 1.." + Integer.MAX_VALUE + ": " + frames);
        }
        this.frames = frames;
        this.free = new long[(int) frames];
        this.used = new boolean[(int) frames];
        this.everUsed = new boolean[(int) frames];
        // Low gfns on top, handed out first.
        for (int i = 0; i < frames; i++) {
            free[i] = frames - 1 - i;
        }
        top = (int) frames;
    }

    public long allocate() {
        if (top == 0) {
            return NO_FRAME;
        }
        long gfn = free[--top];
        used[(int) gfn] = true;
        return gfn;
    }

    /**
     * Whether {@code gfn} was handed out before its current allocation: a fresh frame reads as zeros (the host
     * zero-fills anonymous memory), a reused one still holds its old contents. Call right after {@link #allocate}.
     */
    public boolean reused(long gfn) {
        boolean before = everUsed[(int) gfn];
        everUsed[(int) gfn] = true;
        return before;
    }

    public void release(long gfn) {
        if (gfn < 0 || gfn >= frames || !used[(int) gfn]) {
            throw new IllegalStateException("guest frame " + gfn + " is not allocated");
        }
        used[(int) gfn] = false;
        if (top == free.length) {
            free = Arrays.copyOf(free, free.length * 2);
        }
        free[top++] = gfn;
    }

    public boolean isUsed(long gfn) {
        return gfn >= 0 && gfn < frames && used[(int) gfn];
    }

    public long totalFrames() {
        return frames;
    }

    public long freeFrames() {
        return top;
    }
}
