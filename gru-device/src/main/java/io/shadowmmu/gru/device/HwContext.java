package io.shadowmmu.gru.device;

/** A user's context ({@code struct gru_thread_state}); loaded when it holds one of the device's hardware contexts. */
final class HwContext {
    final int id;
    final MmBinding binding;
    boolean loaded;
    boolean closed;
    long lastUse;

    HwContext(int id, MmBinding binding) {
        this.id = id;
        this.binding = binding;
    }
}
