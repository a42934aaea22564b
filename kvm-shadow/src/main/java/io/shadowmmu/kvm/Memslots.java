package io.shadowmmu.kvm;

import java.util.List;

/** A VM's memslots ({@code struct kvm_memslots}): lookups by gfn and by id. */
final class Memslots {
    private final List<Memslot> all;

    Memslots(List<Memslot> all) {
        this.all = List.copyOf(all);
    }

    List<Memslot> all() {
        return all;
    }

    /** {@code gfn_to_memslot}: the slot holding {@code gfn}, or null. */
    Memslot ofGfn(long gfn) {
        for (Memslot s : all) {
            if (s.containsGfn(gfn)) {
                return s;
            }
        }
        return null;
    }

    Memslot byId(int id) {
        for (Memslot s : all) {
            if (s.id() == id) {
                return s;
            }
        }
        return null;
    }
}
