package io.shadowmmu.guest.kvm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import io.shadowmmu.guest.vcpu.KvmPort;
import io.shadowmmu.guest.vcpu.Vcpu;
import io.shadowmmu.guest.vcpu.Walk;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Spte;

import java.time.Duration;
import java.util.function.LongFunction;

/**
 * The guest's view of kvm-shadow's {@code KvmMmu}: walks go to the shared {@link KvmView} (no message), exits,
 * remote flushes and guest-kernel writes are translated between the vCPU's protocol and {@link KvmCommand}.
 */
public final class KvmMmuPort implements KvmPort {
    /** A guest-kernel write that takes this long means KVM is gone; the guest goes on and logs it. */
    private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);

    private final KvmView view;
    private final ActorRef<KvmCommand> kvm;
    private final KvmAgentCapture agent;

    public KvmMmuPort(KvmView view, ActorRef<KvmCommand> kvm) {
        this(view, kvm, null);
    }

    /** @param agent the events wrapper given to this KvmMmu, which learns its agent id (null: unknown) */
    public KvmMmuPort(KvmView view, ActorRef<KvmCommand> kvm, KvmAgentCapture agent) {
        this.view = view;
        this.kvm = kvm;
        this.agent = agent;
    }

    @Override
    public long agent() {
        return agent == null ? -1 : agent.kvmAgent();
    }

    public ActorRef<KvmCommand> kvm() {
        return kvm;
    }

    @Override
    public boolean tdp() {
        return view.tdp();
    }

    @Override
    public boolean walk(long cr3, long address, boolean write, Walk out) {
        while (true) {
            long s = view.lookup(cr3, address);
            if (!Spte.present(s)) {
                return false;
            }
            boolean writable = Spte.writable(s);
            if (write && !writable) {
                // A write through a read-only entry exits like a missing one; nothing to mark.
                out.set(Spte.pfn(s), Spte.generation(s), false);
                return true;
            }
            // Accessed (and dirty on a write) like the MMU; if KVM changed the entry meanwhile, walk again.
            if (view.markUsed(cr3, address, s, write)) {
                out.set(Spte.pfn(s), Spte.generation(s), writable);
                return true;
            }
        }
    }

    @Override
    public boolean inOrderExits() {
        return view.inOrderExits();
    }

    @Override
    public AccessGrant grant() {
        return view.grant();
    }

    @Override
    public long guestFrames() {
        return view.guestFrames();
    }

    @Override
    public Exits connect(int vcpu, ActorContext<Vcpu.Command> context) {
        ActorRef<KvmCommand.FlushTlb> flushes = context.messageAdapter(KvmCommand.FlushTlb.class,
                f -> new Vcpu.FlushTlb(f.flush(), true, 0, 0,
                        (id, request) -> f.replyTo().tell(new KvmCommand.TlbFlushed(id, request))));
        ActorRef<KvmCommand.FaultReply> replies = context.messageAdapter(KvmCommand.FaultReply.class,
                KvmMmuPort::toExitReply);
        kvm.tell(new KvmCommand.ConnectVcpu(vcpu, flushes));
        if (view.tdp()) {
            return (cr3, address, write) -> kvm.tell(new KvmCommand.TdpFault(vcpu, address, write, replies));
        }
        return (cr3, address, write) -> kvm.tell(new KvmCommand.ShadowFault(vcpu, cr3, address, write, replies));
    }

    @Override
    public <T> GuestKernelWrites connectKernel(ActorContext<T> context, LongFunction<T> done) {
        // ask, not one message adapter: several writes may be outstanding and each must complete its own token.
        return (token, gpas, values) -> context.ask(KvmCommand.GuestWritten.class, kvm, WRITE_TIMEOUT,
                replyTo -> new KvmCommand.WriteGuest(gpas, values, replyTo),
                (written, failure) -> {
                    if (failure != null) {
                        context.getLog().warn("guest kernel write of {} words got no answer: {}", gpas.length,
                                failure.getMessage());
                    } else if (!written.ok()) {
                        context.getLog().warn("guest kernel write failed: {}", written.error());
                    }
                    return done.apply(token);
                });
    }

    private static Vcpu.ExitReply toExitReply(KvmCommand.FaultReply r) {
        if (r instanceof KvmCommand.Resolved resolved) {
            return new Vcpu.ExitResolved(resolved.retries(), resolved.address());
        }
        if (r instanceof KvmCommand.GuestPageFault pf) {
            return new Vcpu.ExitGuestPageFault(pf.gva());
        }
        KvmCommand.GuestFault gf = (KvmCommand.GuestFault) r;
        return new Vcpu.ExitGuestFault(gf.why(), gf.address());
    }
}
