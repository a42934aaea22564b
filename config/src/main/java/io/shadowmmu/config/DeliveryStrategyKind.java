package io.shadowmmu.config;

/** The invalidation delivery designs of the 2008 debate, selectable per run (DESIGN.md section 5). */
public enum DeliveryStrategyKind {
    /** 2.6.26-era invalidate_page: one notification per cleared PTE. */
    PER_PAGE,
    /** One notification each time the PT lock is dropped: one per page-table page (512 PTEs). */
    PER_PT_PAGE,
    /** invalidate_range_start/end: a barrier before the PTEs change, an end after. */
    RANGE,
    /** Clear under the lock, gather the frames, notify after, free after every ack. */
    GATHER,
    /** invalidate_range (mark, asynchronous) then a sync that waits before frames are freed. */
    TWO_PHASE
}
