package io.shadowmmu.gru.device;

/**
 * A user's device context ({@code struct gru_thread_state}): bound to one mm, loaded on a hardware context of the
 * device or unloaded (stolen), in which case its next batch loads it again.
 */
final class GruContext {
    final int id;
    /** Its mm binding; context churn moves it to the binding that replaces this one. */
    BoundMm bound;
    /** Hardware context slot, or -1 when unloaded. */
    int hardware = -1;
    long lastUse;

    GruContext(int id, BoundMm bound) {
        this.id = id;
        this.bound = bound;
    }
}
