package io.shadowmmu.kvm;

import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.pagetable.PageTable;

import java.util.concurrent.ConcurrentHashMap;

/**
 * What a vCPU's hardware sees of KVM: the TDP table (gpa to host frame) or the shadow tables (guest virtual to host
 * frame, one per guest CR3), read without any message, and the grant under which it may use them. KvmMmu (through
 * its TdpMmu or ShadowMmu) is the only writer; every read here is a volatile read of one packed {@link Spte}.
 */
public final class KvmView {
    private final boolean tdp;
    private final long guestFrames;
    private final long agent;
    final PageTable tdpTable = new PageTable();
    final ConcurrentHashMap<Long, PageTable> shadowRoots = new ConcurrentHashMap<>();
    volatile AccessGrant grant;
    /** Set by KVM before any vCPU runs: vCPUs must keep one exit in flight and stop at it (see {@link #inOrderExits}). */
    volatile boolean inOrderExits;

    public KvmView(boolean tdp, long guestFrames) {
        this(tdp, guestFrames, -1);
    }

    /**
     * @param agent the oracle agent of the VM, shared by KVM's sptes (cache 0) and its vCPUs' TLBs (caches 1..): one
     *              grant covers them all, so a fence must revoke them all; -1 lets KVM take an agent of its own
     */
    public KvmView(boolean tdp, long guestFrames, long agent) {
        this.tdp = tdp;
        this.guestFrames = guestFrames;
        this.agent = agent;
    }

    /** The VM's oracle agent, or -1. */
    public long agent() {
        return agent;
    }

    public boolean tdp() {
        return tdp;
    }

    public long guestFrames() {
        return guestFrames;
    }

    /** The grant of the current notifier registration, or null while there is none (then use nothing). */
    /**
     * True when vCPUs must stop at an exit until it is answered (one in flight, no running ahead): any race-catalogue
     * variant, whose window the catalogue measures with the vCPU timing it was written for (D80).
     */
    public boolean inOrderExits() {
        return inOrderExits;
    }

    public AccessGrant grant() {
        return grant;
    }

    /**
     * Hardware walk: the spte for {@code address} (a gpa in TDP mode, a guest virtual address under {@code cr3} in
     * shadow mode), or {@link Spte#NONE}.
     */
    public long lookup(long cr3, long address) {
        PageTable table = tdp ? tdpTable : shadowRoots.get(cr3);
        return table == null ? Spte.NONE : table.get(address);
    }

    /**
     * Hardware accessed/dirty update after a walk found {@code spte}: false when the entry changed underneath (walk
     * again).
     */
    public boolean markUsed(long cr3, long address, long spte, boolean write) {
        PageTable table = tdp ? tdpTable : shadowRoots.get(cr3);
        if (table == null) {
            return false;
        }
        long bits = Spte.ACCESSED | (write ? Spte.DIRTY : 0);
        if ((spte & bits) == bits) {
            return table.get(address) == spte;
        }
        return table.setHardwareBits(address, spte, bits);
    }
}
