package io.shadowmmu.testkit.fault;

/** The failure {@link Crashing} throws; its supervisor restarts on this type only, so real bugs still surface. */
public final class InjectedCrash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InjectedCrash(String message) {
        super(message, null, false, false); // no stack trace: it is planned, and thousands may happen
    }
}
