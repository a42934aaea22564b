package io.shadowmmu.hostmm.notifier;

/** Why the host invalidates ({@code enum mmu_notifier_event}). */
public enum InvalidationEvent {
    /** munmap: the range is gone ({@code MMU_NOTIFY_UNMAP}). */
    UNMAP,
    /** Pages dropped but the mapping stays: madvise(DONTNEED), reclaim, KSM, truncate, COW break. */
    CLEAR,
    /** mprotect: the whole range's protection changes ({@code MMU_NOTIFY_PROTECTION_VMA}). */
    PROTECTION_VMA,
    /** fork write-protects private pages for copy-on-write ({@code MMU_NOTIFY_PROTECTION_PAGE}). */
    PROTECTION_PAGE,
    /** A page moves to another frame ({@code MMU_NOTIFY_MIGRATE}). */
    MIGRATE,
    /** The mm is going away ({@code MMU_NOTIFY_RELEASE}). */
    RELEASE
}
