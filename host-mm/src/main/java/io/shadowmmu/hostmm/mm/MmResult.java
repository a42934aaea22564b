package io.shadowmmu.hostmm.mm;

/** Reply to a memory operation. */
public sealed interface MmResult {
    boolean ok();

    /** Success; {@code value} is the address (mmap), the value read (access) or 0. */
    record Done(long value) implements MmResult {
        public static final Done ZERO = new Done(0);

        @Override
        public boolean ok() {
            return true;
        }
    }

    /** Success of {@link MmCommand.Accesses}: the value read or written at each of its addresses, in order. */
    record Words(long[] values) implements MmResult {
        @Override
        public boolean ok() {
            return true;
        }
    }

    record Failed(Errno errno, String detail) implements MmResult {
        @Override
        public boolean ok() {
            return false;
        }

        @Override
        public String toString() {
            return errno + ": " + detail;
        }
    }
}
