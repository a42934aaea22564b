package io.shadowmmu.hostmm.mm;

/** Reply to {@link MmCommand.GetUserPage}. */
public sealed interface PageReply {
    long va();

    /**
     * The page is present with at least the requested access. No reference is held for the caller: the caller must
     * re-check its invalidation sequence before installing (principle 4), which is what keeps a stale grant harmless.
     */
    record Granted(long va, int pfn, int generation, boolean writable) implements PageReply {
    }

    record Denied(long va, Errno errno, String detail) implements PageReply {
    }
}
