package io.shadowmmu.gru.device;

/**
 * A batch of device instructions on user virtual addresses (8-byte aligned words), in primitive arrays.
 * A load reads the word, a store writes {@code values[i]}, an AMO adds {@code values[i]} and returns the old value.
 *
 * <p>{@code results}, when not null, is where the device puts what each load and AMO returned ({@code results[i]}
 * for instruction {@code i}; stores leave theirs untouched), as a user reading its result registers: the user
 * checks them against what it wrote (I1). The device writes them before it replies, and the reply is the message
 * that hands them back, so the user reads them only after the device is done with them.
 */
public record Instructions(byte[] ops, long[] vas, long[] values, int count, long[] results) {
    public static final byte LOAD = 0;
    public static final byte STORE = 1;
    public static final byte AMO = 2;

    public Instructions {
        if (count > ops.length || count > vas.length || count > values.length
                || (results != null && count > results.length)) {
            throw new IllegalArgumentException("instruction count " + count + " exceeds its arrays");
        }
        for (int i = 0; i < count; i++) {
            if ((vas[i] & 7) != 0 || vas[i] < 0) {
                throw new IllegalArgumentException("instruction " + i + ": address 0x" + Long.toHexString(vas[i])
                        + " is not an aligned 8-byte word");
            }
        }
    }

    /** A batch whose individual results nobody reads (only the sum in the reply). */
    public Instructions(byte[] ops, long[] vas, long[] values, int count) {
        this(ops, vas, values, count, null);
    }

    public static Instructions one(byte op, long va, long value) {
        return new Instructions(new byte[] {op}, new long[] {va}, new long[] {value}, 1);
    }

    public static boolean writes(byte op) {
        return op != LOAD;
    }
}
