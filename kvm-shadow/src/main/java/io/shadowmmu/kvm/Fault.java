package io.shadowmmu.kvm;

import akka.actor.typed.ActorRef;

import java.util.List;

/** One vCPU exit in progress ({@code struct kvm_page_fault}): what the vCPU asked, and what resolving it found. */
final class Fault {
    final int vcpu;
    final long cr3;
    final long address;
    final boolean write;
    final ActorRef<KvmCommand.FaultReply> replyTo;
    /** Attempts discarded so far (host EAGAIN or the invalidation check). */
    long retries;
    // Set by PagingMmu.resolve.
    long gfn;
    boolean guestWritable;
    /** Shadow mode: {tableGfn, blockBase, level} of each guest page-table page the walk read. */
    List<long[]> tables = List.of();
    // Set once the gfn is known.
    Memslot slot;
    long hva;

    Fault(int vcpu, long cr3, long address, boolean write, ActorRef<KvmCommand.FaultReply> replyTo) {
        this.vcpu = vcpu;
        this.cr3 = cr3;
        this.address = address;
        this.write = write;
        this.replyTo = replyTo;
    }
}
