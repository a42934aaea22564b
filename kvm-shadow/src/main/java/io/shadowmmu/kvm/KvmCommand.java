package io.shadowmmu.kvm;

import akka.actor.typed.ActorRef;

/** The protocol of {@link KvmMmu}: what vCPUs, the guest kernel and the VM's owner ask of KVM's MMU. */
public sealed interface KvmCommand {

    /** A vCPU joins: remote TLB flushes reach it as {@link FlushTlb}; it answers with {@link TlbFlushed}. */
    record ConnectVcpu(int vcpu, ActorRef<FlushTlb> flushes) implements KvmCommand {
    }

    /** Remote TLB flush ({@code kvm_flush_remote_tlbs}): drop every cached translation, then answer. */
    record FlushTlb(long flush, ActorRef<KvmCommand> replyTo) {
    }

    record TlbFlushed(int vcpu, long flush) implements KvmCommand {
    }

    /** A TDP (EPT) violation: no usable entry for guest physical address {@code gpa}. */
    record TdpFault(int vcpu, long gpa, boolean write, ActorRef<FaultReply> replyTo) implements KvmCommand {
    }

    /** A shadow-paging fault: no usable shadow entry for {@code gva} under guest CR3 {@code cr3}. */
    record ShadowFault(int vcpu, long cr3, long gva, boolean write, ActorRef<FaultReply> replyTo)
            implements KvmCommand {
    }

    /** Answer to a fault: walk again, or deliver a fault to the guest. */
    sealed interface FaultReply {
    }

    /**
     * The entry is installed; {@code retries} fault attempts were discarded by the invalidation check. {@code address}
     * is the faulting address (gpa or gva) as the vCPU sent it, so a vCPU with several exits in flight knows which
     * one this answers; -1 when unknown.
     */
    record Resolved(long retries, long address) implements FaultReply {
        public Resolved(long retries) {
            this(retries, -1);
        }
    }

    /** Shadow mode: the guest's own page table does not allow it; the guest OS must handle a page fault. */
    record GuestPageFault(long gva, boolean write, String why) implements FaultReply {
    }

    /** The access has no backing: outside every memslot, a write to a read-only slot, or refused by the host. */
    record GuestFault(String why, long address) implements FaultReply {
        public GuestFault(String why) {
            this(why, -1);
        }
    }

    /**
     * The guest kernel stores words into guest physical memory (its page-table updates). In shadow mode a store to a
     * guest page table that KVM shadows is trapped: the shadow entries it covers are zapped and flushed before the
     * reply.
     */
    record WriteGuest(long[] gpas, long[] values, ActorRef<GuestWritten> replyTo) implements KvmCommand {
    }

    record GuestWritten(int words, int trapped, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    /** Start dirty logging on a memslot: its pages become read-only to the guest until written and logged. */
    record EnableDirtyLog(int slot, ActorRef<DirtyLog> replyTo) implements KvmCommand {
    }

    /** {@code KVM_GET_DIRTY_LOG}: the pages written since the last call, cleared and write-protected again. */
    record GetDirtyLog(int slot, ActorRef<DirtyLog> replyTo) implements KvmCommand {
    }

    record DirtyLog(int slot, long[] bitmap) {
        public long count() {
            long n = 0;
            for (long w : bitmap) {
                n += Long.bitCount(w);
            }
            return n;
        }

        public boolean isDirty(long pageInSlot) {
            return (bitmap[(int) (pageInSlot >>> 6)] & (1L << (pageInSlot & 63))) != 0;
        }
    }

    record GetStats(ActorRef<KvmStats> replyTo) implements KvmCommand {
    }

    /** Messages only KvmMmu sends itself. */
    non-sealed interface Internal extends KvmCommand {
    }
}
