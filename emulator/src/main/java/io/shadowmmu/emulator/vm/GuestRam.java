package io.shadowmmu.emulator.vm;

/** What backs each VM's guest RAM in the VM scenarios ({@code vm-scenario.guest-ram}). */
public enum GuestRam {
    /** Private anonymous memory (QEMU's default): reclaim swaps it. */
    ANONYMOUS,
    /**
     * A shared file mapping (memory-backend-file, share=on): the pages live in the page cache, reclaim writes the dirty
     * ones back before evicting them, and a secondary's store behind a clean host PTE reaches the file only through
     * its dirty report.
     */
    SHARED_FILE
}
