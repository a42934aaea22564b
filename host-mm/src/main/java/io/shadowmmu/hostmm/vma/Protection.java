package io.shadowmmu.hostmm.vma;

/** Access rights of a mapping ({@code PROT_*}). Write implies read, as on x86. */
public enum Protection {
    NONE(false, false),
    READ(true, false),
    READ_WRITE(true, true);

    private final boolean readable;
    private final boolean writable;

    Protection(boolean readable, boolean writable) {
        this.readable = readable;
        this.writable = writable;
    }

    public boolean readable() {
        return readable;
    }

    public boolean writable() {
        return writable;
    }

    public boolean allows(boolean write) {
        return write ? writable : readable;
    }
}
