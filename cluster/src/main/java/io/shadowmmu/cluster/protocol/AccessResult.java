package io.shadowmmu.cluster.protocol;

/**
 * The answer to one access through an importer: the value read (or written), or why it was refused (not attached,
 * fenced, outside the segment, a stale translation). A refusal is a fault for the caller, never a crash.
 *
 * @param attachment the attachment whose local copy served the access (mapped by ranges), or -1 when the exporter's
 *                   memory served it directly (per word) or it was refused. A fence drops a copy's unwritten changes
 *                   with the attachment, so a checker compares a read only with writes made through the same one.
 */
public record AccessResult(long offset, boolean ok, long value, String refused, long attachment)
        implements CrossNode {
    public static AccessResult ok(long offset, long value) {
        return new AccessResult(offset, true, value, null, -1);
    }

    /** Served by the local copy of attachment {@code attachment}. */
    public static AccessResult ok(long offset, long value, long attachment) {
        return new AccessResult(offset, true, value, null, attachment);
    }

    public static AccessResult refused(long offset, String why) {
        return new AccessResult(offset, false, 0, why, -1);
    }
}
