package io.shadowmmu.guest.vcpu;

import akka.actor.typed.javadsl.ActorContext;
import io.shadowmmu.hostmm.notifier.AccessGrant;

/**
 * What a vCPU sees of KVM: the second-level table its hardware walks without any message (TDP: gpa to host frame;
 * shadow: guest virtual to host frame under a guest CR3), and the exit through which it asks KVM to fill that
 * table. One port per VM; {@link #walk} and {@link #grant} are called from every vCPU's thread.
 */
public interface KvmPort {
    /** True for TDP (EPT-like) paging, false for shadow paging. */
    boolean tdp();

    /**
     * Hardware walk ({@code address} is a gpa in TDP mode, a gva under {@code cr3} in shadow mode). On success fills
     * {@code out} with the host frame, the generation the entry was installed for and its writability; a write
     * walk sets the entry's dirty state like hardware does.
     *
     * @return false when the table has no entry for the address
     */
    boolean walk(long cr3, long address, boolean write, Walk out);

    /**
     * The oracle agent id under which KVM holds its translations, or -1 if unknown. vCPU TLB entries are reported
     * under it, so that a fence of KVM revokes them with everything else.
     */
    default long agent() {
        return -1;
    }

    /** True when this vCPU must stop at each exit until it is answered (no running ahead of it). */
    default boolean inOrderExits() {
        return false;
    }

    /** The grant of the current notifier registration, or null while there is none (then nothing may be used). */
    AccessGrant grant();

    /** Guest frames of RAM (for the TDP-mode walk of guest page tables). */
    long guestFrames();

    /**
     * Connects a vCPU: remote TLB flushes reach it as {@link Vcpu.FlushTlb}, and {@link #exit} answers come back as
     * {@link Vcpu.ExitReply}. Called from the vCPU's setup.
     */
    Exits connect(int vcpu, ActorContext<Vcpu.Command> context);

    /**
     * Connects the guest kernel: {@link GuestKernelWrites#write} stores words into guest physical memory through
     * KVM (in shadow mode a trapped write to a guest page table, which zaps the shadow entries it changes), and its
     * completion comes back to {@code context} as the message {@code done.apply(token)}.
     */
    <T> GuestKernelWrites connectKernel(ActorContext<T> context, java.util.function.LongFunction<T> done);

    /** The guest kernel's path to guest physical memory. */
    interface GuestKernelWrites {
        void write(long token, long[] gpas, long[] values);
    }

    /** The exit side of one connected vCPU. */
    interface Exits {
        /** A VM exit: the walk found no usable entry for {@code address} ({@code cr3} matters in shadow mode). */
        void exit(long cr3, long address, boolean write);
    }
}
