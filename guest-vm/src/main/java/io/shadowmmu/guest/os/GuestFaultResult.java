package io.shadowmmu.guest.os;

/** How the guest kernel resolved a page fault of one of its processes. */
public enum GuestFaultResult {
    /** A page was mapped (or already was, by a racing fault): retry the access. */
    MAPPED,
    /** No mapping covers the address (the guest's SIGSEGV, SEGV_MAPERR). */
    SEGV_MAPERR,
    /** A write to a read-only mapping (SEGV_ACCERR). */
    SEGV_ACCERR,
    /** The guest is out of physical memory. */
    OOM
}
