package io.shadowmmu.kvm;

/** A guest-kernel write ({@link KvmCommand.WriteGuest}) in progress, word by word. */
final class GuestWrite {
    final KvmCommand.WriteGuest request;
    /** The next word to store. */
    int next;
    /** Stores that hit a shadowed guest page table. */
    int trapped;
    String error;

    GuestWrite(KvmCommand.WriteGuest request) {
        this.request = request;
    }

    KvmCommand.GuestWritten result() {
        return new KvmCommand.GuestWritten(next, trapped, error);
    }
}
