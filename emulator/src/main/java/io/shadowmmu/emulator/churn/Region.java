package io.shadowmmu.emulator.churn;

import io.shadowmmu.hostmm.vma.VmaKind;

/** A mapping a churn process made: start, pages, kind. */
record Region(long start, long pages, VmaKind kind) {
    long end() {
        return start + pages * 4096;
    }

    boolean contains(long va) {
        return va >= start && va < end();
    }
}
