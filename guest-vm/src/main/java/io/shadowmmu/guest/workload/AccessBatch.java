package io.shadowmmu.guest.workload;

/**
 * A reusable buffer of guest accesses in primitive arrays, so a workload produces millions of accesses without
 * allocating per access. A producer {@link #clear()}s it and {@link #add}s until {@link #isFull()}; the vCPU reads
 * entries 0..{@link #size()}-1.
 */
public final class AccessBatch {
    /** A data read (Lackey {@code L}). */
    public static final byte LOAD = 0;
    /** A data write (Lackey {@code S}). */
    public static final byte STORE = 1;
    /** A read-modify-write of the same location (Lackey {@code M}). */
    public static final byte MODIFY = 2;
    /** An instruction fetch (Lackey {@code I}): a read, counted apart from data accesses. */
    public static final byte IFETCH = 3;

    private final long[] address;
    private final byte[] kind;
    private final int[] size;
    private int count;

    public AccessBatch(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("batch capacity must be positive: " + capacity);
        }
        address = new long[capacity];
        kind = new byte[capacity];
        size = new int[capacity];
    }

    public void clear() {
        count = 0;
    }

    public boolean isFull() {
        return count == address.length;
    }

    public int size() {
        return count;
    }

    public int capacity() {
        return address.length;
    }

    /** Appends an access; the caller checks {@link #isFull()} first. */
    public void add(long va, byte accessKind, int bytes) {
        address[count] = va;
        kind[count] = accessKind;
        size[count] = bytes;
        count++;
    }

    public long address(int i) {
        return address[i];
    }

    public byte kind(int i) {
        return kind[i];
    }

    public int accessSize(int i) {
        return size[i];
    }

    public boolean writes(int i) {
        return kind[i] == STORE || kind[i] == MODIFY;
    }

    public static String kindName(byte k) {
        switch (k) {
            case LOAD:
                return "load";
            case STORE:
                return "store";
            case MODIFY:
                return "modify";
            case IFETCH:
                return "ifetch";
            default:
                return "kind" + k;
        }
    }
}
