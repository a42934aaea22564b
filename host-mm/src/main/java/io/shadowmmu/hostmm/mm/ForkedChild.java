package io.shadowmmu.hostmm.mm;

/** A child address space copied by fork, on its way to the host, which gives it an actor of its own. */
public final class ForkedChild {
    final AddressSpace space;

    ForkedChild(AddressSpace space) {
        this.space = space;
    }

    public long mm() {
        return space.id();
    }

    public String name() {
        return space.name();
    }
}
