package io.shadowmmu.guest.testing;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import io.shadowmmu.guest.os.GuestLayout;
import io.shadowmmu.guest.os.GuestWrites;
import io.shadowmmu.guest.vcpu.KvmPort;
import io.shadowmmu.guest.vcpu.Vcpu;
import io.shadowmmu.guest.vcpu.Walk;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;

/**
 * A stand-in for KvmMmu in guest-vm tests: guest RAM is backed eagerly by host frames, second-level entries are
 * installed lazily on exits (so exits happen), and a test can break it on purpose. In probe mode every exit is sent
 * to a probe instead of being answered, so a test controls the order of events.
 */
public final class FakeKvm implements KvmPort {
    /** An exit seen in probe mode; answer it by {@link #install} then telling {@code vcpu} an ExitReply. */
    public record ExitSeen(int vcpuId, long cr3, long address, boolean write, ActorRef<Vcpu.Command> vcpu) {
    }

    private final PhysicalMemory memory;
    private final boolean tdp;
    private final int[] backing;
    private final Map<Long, Boolean> installed = new ConcurrentHashMap<>();
    private final AccessGrant grant = new AccessGrant();
    private volatile ActorRef<ExitSeen> probe;

    public FakeKvm(PhysicalMemory memory, int guestFrames, boolean tdp) {
        this.memory = memory;
        this.tdp = tdp;
        this.backing = new int[guestFrames];
        for (int i = 0; i < guestFrames; i++) {
            backing[i] = memory.allocate(0xF00D, PhysicalMemory.FLAG_ANON);
        }
    }

    public void probeMode(ActorRef<ExitSeen> exits) {
        this.probe = exits;
    }

    public void autoMode() {
        this.probe = null;
    }

    @Override
    public boolean tdp() {
        return tdp;
    }

    @Override
    public boolean walk(long cr3, long address, boolean write, Walk out) {
        long key = key(cr3, address);
        if (!installed.containsKey(key)) {
            return false;
        }
        long gfn = tdp ? address >>> GuestLayout.PAGE_SHIFT : guestFrameOf(cr3, address);
        if (gfn < 0 || gfn >= backing.length) {
            return false;
        }
        int pfn = backing[(int) gfn];
        out.set(pfn, memory.generation(pfn), true);
        return true;
    }

    /** Installs the second-level entry for an exit's address (what KVM's fault path does). */
    public void install(long cr3, long address) {
        installed.put(key(cr3, address), Boolean.TRUE);
    }

    /** Broken on purpose: guest frame {@code gfn} now lives in a fresh host frame whose contents were not copied. */
    public void moveWithoutCopy(long gfn) {
        backing[(int) gfn] = memory.allocate(0xBAD, PhysicalMemory.FLAG_ANON);
        installed.clear();
    }

    public int hostFrame(long gfn) {
        return backing[(int) gfn];
    }

    /** The test's way to put guest kernel writes in place directly. */
    public void apply(GuestWrites w) {
        for (int i = 0; i < w.size(); i++) {
            writeWord(w.gpa(i), w.value(i));
        }
    }

    @Override
    public AccessGrant grant() {
        return grant;
    }

    @Override
    public long guestFrames() {
        return backing.length;
    }

    @Override
    public Exits connect(int vcpu, ActorContext<Vcpu.Command> context) {
        ActorRef<Vcpu.Command> self = context.getSelf();
        return (cr3, address, write) -> {
            ActorRef<ExitSeen> p = probe;
            if (p != null) {
                p.tell(new ExitSeen(vcpu, cr3, address, write, self));
                return;
            }
            long gfn = tdp ? address >>> GuestLayout.PAGE_SHIFT : guestFrameOf(cr3, address);
            if (!tdp && gfn == -1) {
                self.tell(new Vcpu.ExitGuestPageFault());
            } else if (gfn < 0 || gfn >= backing.length) {
                self.tell(new Vcpu.ExitGuestFault("gpa 0x" + Long.toHexString(gfn << 12) + " is in no memslot"));
            } else if (!tdp && write && !guestWritable(cr3, address)) {
                self.tell(new Vcpu.ExitGuestPageFault());
            } else {
                install(cr3, address);
                self.tell(new Vcpu.ExitResolved(0));
            }
        };
    }

    @Override
    public <T> GuestKernelWrites connectKernel(ActorContext<T> context, LongFunction<T> done) {
        ActorRef<T> self = context.getSelf();
        return (token, gpas, values) -> {
            for (int i = 0; i < gpas.length; i++) {
                writeWord(gpas[i], values[i]);
            }
            if (!tdp) {
                // A trapped write to a guest page table: drop every shadow entry (a coarse zap).
                installed.clear();
            }
            self.tell(done.apply(token));
        };
    }

    private void writeWord(long gpa, long value) {
        memory.write(backing[(int) (gpa >>> 12)], (int) ((gpa & 4095) >>> 3), value);
    }

    private long key(long cr3, long address) {
        long page = address >>> GuestLayout.PAGE_SHIFT;
        return tdp ? page : page * 31 + cr3;
    }

    /** Walks the guest's tables in guest memory: the gfn, -1 when not present, -2 beyond guest RAM. */
    private long guestFrameOf(long cr3, long gva) {
        long pte = guestPte(cr3, gva);
        if (pte == -2) {
            return -2;
        }
        return Pte.isPresent(pte) ? Pte.pfn(pte) : -1;
    }

    private boolean guestWritable(long cr3, long gva) {
        long pte = guestPte(cr3, gva);
        return pte != -2 && Pte.isWritable(pte);
    }

    private long guestPte(long cr3, long gva) {
        long table = cr3 >>> GuestLayout.PAGE_SHIFT;
        long pte = Pte.NONE;
        for (int level = 3; level >= 0; level--) {
            if (table >= backing.length) {
                return -2;
            }
            long gpa = GuestLayout.entryGpa(table, GuestLayout.index(gva, level));
            pte = memory.read(backing[(int) table], (int) ((gpa & 4095) >>> 3));
            if (!Pte.isPresent(pte)) {
                return Pte.NONE;
            }
            table = Pte.pfn(pte);
        }
        return pte;
    }
}
