package io.shadowmmu.gru.device;

/** A device instruction on one 8-byte word of user memory. */
public enum Op {
    LOAD(false),
    STORE(true),
    /** Atomic fetch-and-add (the GRU's AMO): returns the old value. */
    AMO_ADD(true);

    private final boolean write;

    Op(boolean write) {
        this.write = write;
    }

    public boolean writes() {
        return write;
    }

    private static final Op[] VALUES = values();

    public static Op of(int ordinal) {
        return VALUES[ordinal];
    }
}
