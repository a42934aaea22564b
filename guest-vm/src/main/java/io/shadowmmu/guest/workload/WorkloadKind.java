package io.shadowmmu.guest.workload;

/** The synthetic access patterns a guest process can run. */
public enum WorkloadKind {
    SEQUENTIAL,
    UNIFORM,
    ZIPFIAN,
    PHASED,
    /** Runs of the four above, interleaved. */
    MIXED
}
