package io.shadowmmu.guest.vcpu;

/** A reusable out-parameter of a hardware walk, so a TLB miss allocates nothing. */
public final class Walk {
    public int pfn;
    public int generation;
    public boolean writable;

    public void set(int framePfn, int frameGeneration, boolean canWrite) {
        this.pfn = framePfn;
        this.generation = frameGeneration;
        this.writable = canWrite;
    }
}
