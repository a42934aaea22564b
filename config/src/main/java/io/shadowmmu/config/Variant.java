package io.shadowmmu.config;

/**
 * The race catalogue: deliberately broken protocol variants, for proving that the coherence oracle catches each one.
 * Never for real runs: the CLI warns loudly when one is selected.
 */
public enum Variant {
    /** The correct protocol. */
    NONE("the correct protocol"),
    /** A secondary installs what the host answered without re-checking its invalidate sequence. */
    NO_FAULT_RETRY("secondaries install fault answers without the invalidate-sequence check"),
    /** A secondary acknowledges an invalidation before it dropped and flushed its translations. */
    ACK_BEFORE_FLUSH("secondaries acknowledge before their TLBs are flushed"),
    /** The host frees gathered frames without waiting for the acknowledgements. */
    FREE_BEFORE_ACK("the host frees frames without waiting for acknowledgements"),
    /**
     * Registration does not hand the newcomer the invalidations in flight. Exhibited by a subscriber that reads the
     * host page table itself (a GRU drop-in) while a barrier strategy holds the change back: it caches the entry the
     * barrier is about to clear, is not asked to flush it, and the frame is freed under it. The gru scenario exhibits
     * it with context churn and a slow-ack subscriber under RANGE (D54).
     */
    REGISTER_UNQUIESCED("registration ignores invalidations in flight"),
    /** A remote fault reply sent before an invalidation is installed after it was acknowledged. */
    STALE_INFLIGHT_FAULT("a cross-node fault reply lands after the invalidation it raced"),
    /**
     * The host drops the dirty ranges secondaries report in their acks: a page written through a secondary mapping
     * behind a clean host PTE leaves the page cache without being written back (I6).
     */
    LOST_DIRTY("the host ignores dirty ranges reported by secondaries"),
    /**
     * A cross-node importer mapping by ranges drops its dirty copies at an invalidation without writing them back to
     * the exporter: the importer's writes are lost, and a later read of the page (fetched again) returns the old
     * value (I1, seen by the cluster scenario's golden copies).
     */
    SKIP_WRITE_BACK("a cross-node importer drops a dirty copy without writing it back to the exporter");

    private final String meaning;

    Variant(String meaning) {
        this.meaning = meaning;
    }

    public String meaning() {
        return meaning;
    }

    /**
     * Variants some part of the emulator can exhibit today; the others are refused. STALE_INFLIGHT_FAULT only does
     * something in the cluster scenario and module (cross-node importers), SKIP_WRITE_BACK in the cluster scenario
     * mapping by ranges (import-mode = copy), REGISTER_UNQUIESCED in the gru scenario, LOST_DIRTY in the VM scenarios
     * on shared-file guest RAM; the scenario module's catalogue tests force each interleaving (the CLI says which
     * scenarios cannot exhibit a variant).
     */
    public static final java.util.Set<Variant> AVAILABLE =
            java.util.EnumSet.of(NONE, NO_FAULT_RETRY, ACK_BEFORE_FLUSH, FREE_BEFORE_ACK, REGISTER_UNQUIESCED,
                    LOST_DIRTY, STALE_INFLIGHT_FAULT, SKIP_WRITE_BACK);

    static Variant read(ConfigReader r) {
        Variant v = r.enumValue("variant", Variant.class);
        if (!AVAILABLE.contains(v)) {
            throw r.fail("variant", "is not available yet");
        }
        return v;
    }
}
