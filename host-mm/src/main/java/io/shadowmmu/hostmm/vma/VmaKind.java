package io.shadowmmu.hostmm.vma;

/** The four kinds of user mapping the host supports. */
public enum VmaKind {
    /** MAP_PRIVATE | MAP_ANONYMOUS: zero-filled, copy-on-write across fork. */
    ANON_PRIVATE(false, false),
    /** MAP_SHARED | MAP_ANONYMOUS: shared with forked children (backed by an unnamed shmem file). */
    ANON_SHARED(true, true),
    /** MAP_PRIVATE of a file: reads see the page cache, a write makes a private anonymous copy. */
    FILE_PRIVATE(true, false),
    /** MAP_SHARED of a file: reads and writes go to the page cache. */
    FILE_SHARED(true, true);

    private final boolean fileBacked;
    private final boolean shared;

    VmaKind(boolean fileBacked, boolean shared) {
        this.fileBacked = fileBacked;
        this.shared = shared;
    }

    /** True when pages come from a {@link io.shadowmmu.hostmm.file.MemFile}'s page cache. */
    public boolean fileBacked() {
        return fileBacked;
    }

    public boolean shared() {
        return shared;
    }
}
