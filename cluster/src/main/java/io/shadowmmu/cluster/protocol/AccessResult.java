package io.shadowmmu.cluster.protocol;

/**
 * The answer to one access through an importer: the value read (or written), or why it was refused (not attached,
 * fenced, outside the segment, a stale translation). A refusal is a fault for the caller, never a crash.
 */
public record AccessResult(long offset, boolean ok, long value, String refused) implements CrossNode {
    public static AccessResult ok(long offset, long value) {
        return new AccessResult(offset, true, value, null);
    }

    public static AccessResult refused(long offset, String why) {
        return new AccessResult(offset, false, 0, why);
    }
}
