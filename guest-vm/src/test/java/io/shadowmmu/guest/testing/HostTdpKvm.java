package io.shadowmmu.guest.testing;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.guest.vcpu.KvmPort;
import io.shadowmmu.guest.vcpu.Vcpu;
import io.shadowmmu.guest.vcpu.Walk;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongFunction;

/**
 * A deliberately small TDP-only secondary MMU over a real host mm, for guest-vm's integration tests while the real
 * KvmMmu is not on this branch. It follows the subscriber contract: sequence sampled before get_user_pages and
 * re-checked before installing, faults parked while an invalidation covers them, zap then flush every vCPU, and
 * acknowledge the host only after every vCPU acknowledged its flush.
 */
public final class HostTdpKvm implements KvmPort {
    private static final long PRESENT = 1;
    private static final long WRITABLE = 2;
    private static final long DIRTY = 4;
    private static final java.time.Duration ASK_TIMEOUT = java.time.Duration.ofSeconds(30);

    private final PhysicalMemory memory;
    private final long hvaBase;
    private final int frames;
    private final AtomicLongArray tdp;
    private final long agent;
    private volatile AccessGrant grant;
    private volatile ActorRef<Msg> actor;
    /** Invalidations that dropped at least one live entry. */
    public final AtomicLong invalidationsHittingEntries = new AtomicLong();
    public final AtomicLong entriesZapped = new AtomicLong();
    public final AtomicLong faultRetries = new AtomicLong();
    /** Readable state for a failing test's message. */
    public volatile String debugState = "";

    public HostTdpKvm(PhysicalMemory memory, long hvaBase, int frames, long agent) {
        this.memory = memory;
        this.hvaBase = hvaBase;
        this.frames = frames;
        this.tdp = new AtomicLongArray(frames);
        this.agent = agent;
    }

    /** The VM's KVM actor: registers with {@code mm} when it starts. */
    public Behavior<Msg> behavior(ActorRef<MmCommand> mm, CoherenceEvents events) {
        return Behaviors.setup(ctx -> {
            actor = ctx.getSelf();
            return new Mmu(ctx, mm, events);
        });
    }

    @Override
    public boolean tdp() {
        return true;
    }

    @Override
    public boolean walk(long cr3, long gpa, boolean write, Walk out) {
        long gfn = gpa >>> 12;
        if (gfn >= frames) {
            return false;
        }
        long e = tdp.get((int) gfn);
        if (e == 0) {
            return false;
        }
        if (write && (e & WRITABLE) != 0 && (e & DIRTY) == 0) {
            // Hardware dirty bit; if the entry changed underneath, walk again.
            if (!tdp.compareAndSet((int) gfn, e, e | DIRTY)) {
                return walk(cr3, gpa, write, out);
            }
        }
        out.set((int) ((e >>> 3) & 0x1FFF_FFFFL), (int) (e >>> 32), (e & WRITABLE) != 0);
        return true;
    }

    @Override
    public AccessGrant grant() {
        return grant;
    }

    @Override
    public long guestFrames() {
        return frames;
    }

    @Override
    public Exits connect(int vcpu, ActorContext<Vcpu.Command> context) {
        ActorRef<Vcpu.Command> self = context.getSelf();
        actor.tell(new AddVcpu(self));
        return (cr3, address, write) -> actor.tell(new Fault(address, write, self));
    }

    @Override
    public <T> GuestKernelWrites connectKernel(ActorContext<T> context, LongFunction<T> done) {
        ActorRef<T> self = context.getSelf();
        return (token, gpas, values) -> actor.tell(new KernelWrite(gpas, values, () -> self.tell(done.apply(token))));
    }

    public sealed interface Msg {
    }

    private record AddVcpu(ActorRef<Vcpu.Command> vcpu) implements Msg {
    }

    private record Fault(long gpa, boolean write, ActorRef<Vcpu.Command> vcpu) implements Msg {
    }

    private record KernelWrite(long[] gpas, long[] values, Runnable done) implements Msg {
    }

    private record Notified(MmuNotification n) implements Msg {
    }

    private record Reg(MmCommand.Registered r) implements Msg {
    }

    private record Got(Fault fault, long seq, PageReply reply) implements Msg {
    }

    private record Wrote(long op, MmResult result) implements Msg {
    }

    private record Flushed(long request) implements Msg {
    }

    private final class Mmu extends AbstractBehavior<Msg> {
        private final ActorRef<MmCommand> mm;
        private final CoherenceEvents events;
        private final ActorRef<MmuNotification> notifications;
        private final List<ActorRef<Vcpu.Command>> vcpus = new ArrayList<>();
        private final List<Range> inProgress = new ArrayList<>();
        private final List<Fault> parked = new ArrayList<>();
        private final Map<Long, Runnable> flushWaits = new HashMap<>();
        private final Map<Long, Integer> flushLeft = new HashMap<>();
        private final Map<Long, Integer> writesLeft = new HashMap<>();
        private final Map<Long, Runnable> writesDone = new HashMap<>();
        private long subscription = -1;
        private long seq;
        private long nextId = 1;

        Mmu(ActorContext<Msg> ctx, ActorRef<MmCommand> mm, CoherenceEvents events) {
            super(ctx);
            this.mm = mm;
            this.events = events;
            this.notifications = ctx.messageAdapter(MmuNotification.class, Notified::new);
            register();
        }

        private void register() {
            mm.tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, "kvm-test", null,
                    getContext().messageAdapter(MmCommand.Registered.class, Reg::new)));
        }

        private void noteState() {
            debugState = "sub=" + subscription + " seq=" + seq + " inProgress=" + inProgress + " parked="
                    + parked.size() + " flushesWaiting=" + flushLeft + " writesWaiting=" + writesLeft;
        }

        @Override
        public Receive<Msg> createReceive() {
            return newReceiveBuilder()
                    .onAnyMessage(m -> {
                        Behavior<Msg> b = dispatch(m);
                        noteState();
                        return b;
                    })
                    .build();
        }

        private Behavior<Msg> dispatch(Msg m) {
            if (m instanceof AddVcpu) {
                vcpus.add(((AddVcpu) m).vcpu());
                return this;
            } else if (m instanceof Reg) {
                return onRegistered((Reg) m);
            } else if (m instanceof Fault) {
                return onFault((Fault) m);
            } else if (m instanceof Got) {
                return onGot((Got) m);
            } else if (m instanceof KernelWrite) {
                return onKernelWrite((KernelWrite) m);
            } else if (m instanceof Wrote) {
                return onWrote((Wrote) m);
            } else if (m instanceof Notified) {
                return onNotified((Notified) m);
            } else {
                return onFlushed((Flushed) m);
            }
        }

        private Behavior<Msg> onRegistered(Reg m) {
            subscription = m.r().subscription();
            grant = m.r().grant();
            for (MmCommand.InFlight f : m.r().inFlight()) {
                inProgress.addAll(f.ranges());
            }
            retryParked();
            return this;
        }

        private Behavior<Msg> onFault(Fault f) {
            long gfn = f.gpa() >>> 12;
            if (gfn >= frames) {
                f.vcpu().tell(new Vcpu.ExitGuestFault("gpa 0x" + Long.toHexString(f.gpa()) + " is in no memslot"));
                return this;
            }
            if (subscription < 0 || covered(hva(gfn))) {
                parked.add(f);
                return this;
            }
            long snapshot = seq;
            // ask, not a message adapter: an actor has one adapter per reply class, and replies must not be mixed up.
            getContext().ask(PageReply.class, mm, ASK_TIMEOUT, r -> new MmCommand.GetUserPage(hva(gfn), f.write(), r),
                    (r, failure) -> new Got(f, snapshot, r != null ? r
                            : new PageReply.Denied(hva(gfn), io.shadowmmu.hostmm.mm.Errno.EAGAIN, "no answer")));
            return this;
        }

        private Behavior<Msg> onGot(Got g) {
            Fault f = g.fault();
            if (g.reply() instanceof PageReply.Denied) {
                PageReply.Denied d = (PageReply.Denied) g.reply();
                f.vcpu().tell(new Vcpu.ExitGuestFault(d.errno() + ": " + d.detail()));
                return this;
            }
            PageReply.Granted p = (PageReply.Granted) g.reply();
            long gfn = f.gpa() >>> 12;
            if (g.seq() != seq || covered(hva(gfn))) {
                // An invalidation ran since the sample: this pfn may already be revoked.
                faultRetries.incrementAndGet();
                onFault(f);
                return this;
            }
            long e = PRESENT | (p.writable() ? WRITABLE : 0) | ((long) p.pfn() << 3) | ((long) p.generation() << 32);
            tdp.set((int) gfn, e);
            events.translationInstalled(agent, 0, 0, gfn << 12, p.pfn(), p.generation(), p.writable());
            f.vcpu().tell(new Vcpu.ExitResolved(0));
            return this;
        }

        private Behavior<Msg> onKernelWrite(KernelWrite w) {
            long op = nextId++;
            writesLeft.put(op, w.gpas().length);
            writesDone.put(op, w.done());
            for (int i = 0; i < w.gpas().length; i++) {
                long hva = hva(w.gpas()[i] >>> 12) + (w.gpas()[i] & 4095);
                long value = w.values()[i];
                getContext().ask(MmResult.class, mm, ASK_TIMEOUT, r -> new MmCommand.Access(hva, true, value, r),
                        (r, failure) -> new Wrote(op, r != null ? r
                                : new MmResult.Failed(io.shadowmmu.hostmm.mm.Errno.EAGAIN, "no answer")));
            }
            return this;
        }

        private Behavior<Msg> onWrote(Wrote w) {
            if (!w.result().ok()) {
                getContext().getLog().warn("guest kernel write failed: {}", w.result());
            }
            int left = writesLeft.get(w.op()) - 1;
            if (left == 0) {
                writesLeft.remove(w.op());
                writesDone.remove(w.op()).run();
            } else {
                writesLeft.put(w.op(), left);
            }
            return this;
        }

        private Behavior<Msg> onNotified(Notified m) {
            MmuNotification n = m.n();
            if (n instanceof MmuNotification.InvalidateStart) {
                MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) n;
                inProgress.addAll(s.ranges());
                List<Range> dirty = new ArrayList<>();
                long zapped = 0;
                for (Range r : s.ranges()) {
                    zapped += zap(r, dirty);
                }
                if (zapped == 0) {
                    s.replyTo().tell(new NotifierReply.Ack(s.subscription(), s.batch(), dirty));
                } else if (!s.blockable()) {
                    s.replyTo().tell(new NotifierReply.Nack(s.subscription(), s.batch()));
                } else {
                    invalidationsHittingEntries.incrementAndGet();
                    flushThen(() -> s.replyTo().tell(new NotifierReply.Ack(s.subscription(), s.batch(), dirty)));
                }
            } else if (n instanceof MmuNotification.InvalidateEnd) {
                MmuNotification.InvalidateEnd e = (MmuNotification.InvalidateEnd) n;
                seq++;
                for (Range r : e.ranges()) {
                    inProgress.remove(r);
                }
                retryParked();
            } else if (n instanceof MmuNotification.Release) {
                MmuNotification.Release r = (MmuNotification.Release) n;
                zap(new Range(hvaBase, hvaBase + (long) frames * 4096), new ArrayList<>());
                flushThen(() -> r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch())));
            } else if (n instanceof MmuNotification.Fenced) {
                zap(new Range(hvaBase, hvaBase + (long) frames * 4096), new ArrayList<>());
                flushThen(() -> { });
                grant = null;
                subscription = -1;
                inProgress.clear();
                seq++;
                register();
            } else if (n instanceof MmuNotification.ClearYoung) {
                MmuNotification.ClearYoung c = (MmuNotification.ClearYoung) n;
                c.replyTo().tell(new NotifierReply.YoungReport(c.subscription(), c.request(), false));
            } else if (n instanceof MmuNotification.TestYoung) {
                MmuNotification.TestYoung t = (MmuNotification.TestYoung) n;
                t.replyTo().tell(new NotifierReply.YoungReport(t.subscription(), t.request(), false));
            }
            return this;
        }

        /** Drops the entries of an hva range; pages written through them go to {@code dirty}. */
        private long zap(Range r, List<Range> dirty) {
            long start = Math.max(r.start(), hvaBase);
            long end = Math.min(r.end(), hvaBase + (long) frames * 4096);
            long n = 0;
            for (long hva = start; hva < end; hva += 4096) {
                int gfn = (int) ((hva - hvaBase) >>> 12);
                long e = tdp.getAndSet(gfn, 0);
                if (e != 0) {
                    n++;
                    if ((e & DIRTY) != 0) {
                        dirty.add(new Range(hva, hva + 4096));
                    }
                    events.translationRemoved(agent, 0, 0, (long) gfn << 12, (int) ((e >>> 3) & 0x1FFF_FFFFL),
                            (int) (e >>> 32));
                }
            }
            entriesZapped.addAndGet(n);
            return n;
        }

        /** Remote TLB flush: every vCPU flushes, then {@code then} runs. */
        private void flushThen(Runnable then) {
            if (vcpus.isEmpty()) {
                then.run();
                return;
            }
            long request = nextId++;
            flushLeft.put(request, vcpus.size());
            flushWaits.put(request, then);
            ActorRef<Msg> self = getContext().getSelf();
            for (ActorRef<Vcpu.Command> v : vcpus) {
                v.tell(new Vcpu.FlushTlb(request, true, 0, 0, (vcpu, req) -> self.tell(new Flushed(req))));
            }
        }

        private Behavior<Msg> onFlushed(Flushed f) {
            int left = flushLeft.get(f.request()) - 1;
            if (left == 0) {
                flushLeft.remove(f.request());
                flushWaits.remove(f.request()).run();
            } else {
                flushLeft.put(f.request(), left);
            }
            return this;
        }

        private void retryParked() {
            List<Fault> again = new ArrayList<>(parked);
            parked.clear();
            for (Fault f : again) {
                onFault(f);
            }
        }

        private boolean covered(long hva) {
            return Range.anyContains(inProgress, hva);
        }

        private long hva(long gfn) {
            return hvaBase + (gfn << 12);
        }
    }
}
