package io.shadowmmu.hostmm.notifier;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A subscriber's permission to use its translations, revocable by the host without the subscriber's help: the
 * emulator's stand-in for an IOMMU disabling a device or an interconnect cutting a remote partition off.
 *
 * <p>A subscriber brackets each run of accesses (a vCPU slice, a device batch) with {@link #enter()} and
 * {@link #exit()}, and uses no translation when {@code enter} says no. The host fences by {@link #revoke()} and then
 * frees the subscriber's frames only once {@link #quiescent()} holds. Both sides use sequentially consistent
 * operations (a Dekker handshake), so either the subscriber sees the revocation or the host sees the subscriber
 * inside, and waits (by re-checking on a timer, never by blocking). The per-access hit path pays nothing: the check
 * is per run.
 */
public final class AccessGrant {
    private volatile boolean revoked;
    private final AtomicInteger inside = new AtomicInteger();

    /** Starts a run of accesses; false means the grant is revoked and no translation may be used. */
    public boolean enter() {
        inside.incrementAndGet();
        if (revoked) {
            inside.decrementAndGet();
            return false;
        }
        return true;
    }

    public void exit() {
        inside.decrementAndGet();
    }

    public void revoke() {
        revoked = true;
    }

    public boolean isRevoked() {
        return revoked;
    }

    /** Revoked and nobody inside: the subscriber can no longer touch any frame. */
    public boolean quiescent() {
        return revoked && inside.get() == 0;
    }
}
