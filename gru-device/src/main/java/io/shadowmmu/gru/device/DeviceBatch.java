package io.shadowmmu.gru.device;

import java.util.Objects;

/**
 * A batch of instructions a user process hands its context, as parallel arrays so the device's loop over them
 * allocates nothing. Never changed once sent.
 */
public final class DeviceBatch {
    private final byte[] ops;
    private final long[] vas;
    private final long[] values;

    public DeviceBatch(byte[] ops, long[] vas, long[] values) {
        Objects.requireNonNull(ops, "ops");
        if (vas.length != ops.length || values.length != ops.length) {
            throw new IllegalArgumentException("batch arrays differ in length: " + ops.length + " ops, "
                    + vas.length + " addresses, " + values.length + " values");
        }
        this.ops = ops;
        this.vas = vas;
        this.values = values;
    }

    public static DeviceBatch of(Op op, long va, long value) {
        return new DeviceBatch(new byte[]{(byte) op.ordinal()}, new long[]{va}, new long[]{value});
    }

    public int size() {
        return ops.length;
    }

    public Op op(int i) {
        return Op.of(ops[i]);
    }

    public long va(int i) {
        return vas[i];
    }

    public long value(int i) {
        return values[i];
    }

    /** Builds a batch instruction by instruction. */
    public static final class Builder {
        private final byte[] ops;
        private final long[] vas;
        private final long[] values;
        private int n;

        public Builder(int capacity) {
            ops = new byte[capacity];
            vas = new long[capacity];
            values = new long[capacity];
        }

        public Builder add(Op op, long va, long value) {
            ops[n] = (byte) op.ordinal();
            vas[n] = va;
            values[n] = value;
            n++;
            return this;
        }

        public int size() {
            return n;
        }

        public DeviceBatch build() {
            return new DeviceBatch(java.util.Arrays.copyOf(ops, n), java.util.Arrays.copyOf(vas, n),
                    java.util.Arrays.copyOf(values, n));
        }
    }
}
