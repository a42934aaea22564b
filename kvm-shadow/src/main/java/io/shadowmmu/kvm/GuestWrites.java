package io.shadowmmu.kvm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.pagetable.PageTableWalker;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * The guest kernel's stores to guest memory ({@link KvmCommand.WriteGuest}): gpa to hva to host page, stored directly
 * while the host maps the page writable, otherwise through the host (which faults it in or breaks COW). In shadow
 * mode a store to a shadowed guest page table is trapped ({@link PagingMmu#trapGuestStore}) and the reply waits for
 * a remote flush. Each trap bumps the page-table sequence, which a shadow fault samples like the invalidate sequence.
 */
final class GuestWrites {

    /** The host finished a store KVM could not do directly. */
    record HostWrote(GuestWrite write, MmResult result) implements KvmCommand.Internal {
    }

    private static final long PAGE = Memslot.PAGE;

    private final ActorContext<KvmCommand> context;
    private final ActorRef<MmCommand> mm;
    private final Duration timeout;
    private final Memslots slots;
    private final PhysicalMemory memory;
    private final Supplier<PageTableWalker> hostTable;
    private final PagingMmu mmu;
    private final RemoteFlush flush;
    private long ptSequence;
    private long trapped;

    GuestWrites(ActorContext<KvmCommand> context, ActorRef<MmCommand> mm, Duration timeout, Memslots slots,
                PhysicalMemory memory, Supplier<PageTableWalker> hostTable, PagingMmu mmu, RemoteFlush flush) {
        this.context = context;
        this.mm = mm;
        this.timeout = timeout;
        this.slots = slots;
        this.memory = memory;
        this.hostTable = hostTable;
        this.mmu = mmu;
        this.flush = flush;
    }

    /** Bumped by every trapped store: a shadow walk sampled before it may be stale. */
    long ptSequence() {
        return ptSequence;
    }

    /** Stores that hit a shadowed guest page table. */
    long trapped() {
        return trapped;
    }

    void start(KvmCommand.WriteGuest request) {
        writeNext(new GuestWrite(request));
    }

    void hostWrote(HostWrote h) {
        GuestWrite w = h.write();
        if (!h.result().ok()) {
            w.error = "guest write failed in the host: " + h.result();
            finish(w);
            return;
        }
        trapIfShadowed(w, w.request.gpas()[w.next]);
        w.next++;
        writeNext(w);
    }

    private void writeNext(GuestWrite w) {
        long[] gpas = w.request.gpas();
        PageTableWalker host = hostTable.get(); // null while not registered: the host does every store then
        while (w.next < gpas.length) {
            long gpa = gpas[w.next];
            long value = w.request.values()[w.next];
            Memslot slot = slots.ofGfn(gpa >>> 12);
            if (slot == null || (gpa & 7) != 0) {
                w.error = "guest write to gpa 0x" + Long.toHexString(gpa) + " outside guest memory or unaligned";
                break;
            }
            long hva = slot.hvaOf(gpa >>> 12) + (gpa & (PAGE - 1));
            long pageHva = hva & ~(PAGE - 1);
            long pte = host == null ? Pte.NONE : host.get(pageHva);
            if (Pte.isPresent(pte) && Pte.isWritable(pte)
                    && host.setHardwareBits(pageHva, pte, Pte.ACCESSED | Pte.DIRTY)) {
                memory.write(Pte.pfn(pte), (int) ((gpa & (PAGE - 1)) >>> 3), value);
                trapIfShadowed(w, gpa);
                w.next++;
                continue;
            }
            // Not writable in the host right now: let the host fault it in (or break COW) and write it.
            context.ask(MmResult.class, mm, timeout,
                    replyTo -> new MmCommand.Access(hva, true, value, replyTo),
                    (result, failure) -> new HostWrote(w, result != null ? result
                            : new MmResult.Failed(Errno.EAGAIN, "host did not answer")));
            return;
        }
        finish(w);
    }

    private void trapIfShadowed(GuestWrite w, long gpa) {
        if (mmu.trapGuestStore(gpa)) {
            ptSequence++;
            w.trapped++;
            trapped++;
        }
    }

    private void finish(GuestWrite w) {
        KvmCommand.GuestWritten done = w.result();
        if (w.trapped > 0) {
            flush.request(() -> w.request.replyTo().tell(done));
        } else {
            w.request.replyTo().tell(done);
        }
    }
}
