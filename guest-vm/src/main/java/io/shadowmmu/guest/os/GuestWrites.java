package io.shadowmmu.guest.os;

import java.util.Arrays;

/**
 * Guest-physical word writes the guest kernel must make (page-table updates), in order, as parallel primitive
 * arrays. The guest OS model produces them; the VM sends them to KVM, which writes guest memory (and, in shadow
 * mode, treats each as a trapped write to a write-protected guest page table).
 */
public final class GuestWrites {
    private long[] gpa = new long[8];
    private long[] value = new long[8];
    private int size;

    public void add(long guestPhysical, long word) {
        if (size == gpa.length) {
            gpa = Arrays.copyOf(gpa, size * 2);
            value = Arrays.copyOf(value, size * 2);
        }
        gpa[size] = guestPhysical;
        value[size] = word;
        size++;
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public long gpa(int i) {
        return gpa[i];
    }

    public long value(int i) {
        return value[i];
    }

    public long[] gpas() {
        return Arrays.copyOf(gpa, size);
    }

    public long[] values() {
        return Arrays.copyOf(value, size);
    }
}
