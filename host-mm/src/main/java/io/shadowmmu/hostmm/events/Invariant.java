package io.shadowmmu.hostmm.events;

/** The coherence invariants of DESIGN.md section 6. */
public enum Invariant {
    I1("no stale data: a read returns the last value written to that address by its owner"),
    I2("isolation: no agent touches a frame its address space does not own at that moment"),
    I3("no use after free: a free frame has no live translation anywhere"),
    I4("liveness: every invalidation completes (acks or fence) within its deadline"),
    I5("accounting: allocated = free + mapped + pending-free + swap-cache"),
    I6("no lost dirty bit: a page written through a secondary is written back before reclaim");

    private final String meaning;

    Invariant(String meaning) {
        this.meaning = meaning;
    }

    public String meaning() {
        return meaning;
    }
}
