package io.shadowmmu.guest.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.guest.kvm.KvmAgentCapture;
import io.shadowmmu.guest.kvm.KvmMmuPort;
import io.shadowmmu.guest.os.GuestFaultResult;
import io.shadowmmu.guest.os.GuestLayout;
import io.shadowmmu.guest.os.GuestOs;
import io.shadowmmu.guest.os.GuestProcess;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.os.GuestWrites;
import io.shadowmmu.guest.tlb.TlbGeometry;
import io.shadowmmu.guest.vcpu.KvmPort;
import io.shadowmmu.guest.vcpu.Vcpu;
import io.shadowmmu.guest.vcpu.VcpuStats;
import io.shadowmmu.guest.workload.Workload;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmStats;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A guest: its kernel (the {@link GuestOs} memory model) and its vCPUs. Processes are pinned to vCPUs round
 * robin. The kernel's page-table changes are written into guest memory through KVM; after a munmap or mprotect
 * downgrade the kernel shoots down every vCPU's TLB and only then reuses the freed frames, as Linux's
 * {@code flush_tlb_mm_range} before {@code free_pages}.
 */
public final class GuestVm extends AbstractBehavior<GuestVm.Command> {

    public sealed interface Command {
    }

    /** Creates a guest process running {@code workload} over {@code vmas}. */
    public record Spawn(String name, List<GuestVma> vmas, Workload workload, ActorRef<Spawned> replyTo)
            implements Command {
    }

    /** Reply to {@link Spawn}; pid 0 when the guest is out of memory. */
    public record Spawned(int pid, long cr3, int vcpu) {
    }

    /** Queues another workload for a process; its golden copy carries over. */
    public record MoreWork(int pid, Workload workload) implements Command {
    }

    /** Runs every process to the end of its workload and replies the VM's results. */
    public record Run(ActorRef<VmStats> replyTo) implements Command {
    }

    /** munmap inside the guest; replies the pages unmapped once no vCPU can use them. */
    public record Unmap(int pid, long start, long end, ActorRef<Long> replyTo) implements Command {
    }

    /** mprotect inside the guest; replies the pages changed once every vCPU sees the change. */
    public record Protect(int pid, long start, long end, boolean writable, ActorRef<Long> replyTo)
            implements Command {
    }

    /** virtio-balloon: the guest gives up to {@code pages} free frames to the host. */
    public record InflateBalloon(int pages, ActorRef<Ballooned> replyTo) implements Command {
    }

    public record Ballooned(long[] gfns) {
    }

    public record DeflateBalloon(long[] gfns) implements Command {
    }

    public record GetStats(ActorRef<VmStats> replyTo) implements Command {
    }

    /** KVM's own counters (only for a VM made by {@link #onHost}; others never answer). */
    public record GetKvmStats(ActorRef<KvmStats> replyTo) implements Command {
    }

    private record WrappedFault(Vcpu.GuestPageFault fault) implements Command {
    }

    private record Written(long token) implements Command {
    }

    private record Flushed(Vcpu.FlushDone done) implements Command {
    }

    private record VcpuFinished(Vcpu.Finished finished) implements Command {
    }

    private record VcpuStatsReply(VcpuStats stats) implements Command {
    }

    /** Everything a VM is built from. */
    public record Config(String name, long agent, KvmPort kvm, PhysicalMemory memory, CoherenceEvents events,
                         int vcpus, TlbGeometry tlb, int sliceAccesses, int flushAllThreshold,
                         boolean goldenCheck) {
    }

    private final Config cfg;
    private ActorRef<KvmCommand> kvm;
    private final GuestOs os;
    private final KvmPort.GuestKernelWrites kernelWrites;
    private final List<ActorRef<Vcpu.Command>> vcpus = new ArrayList<>();
    private final Map<Integer, Integer> vcpuOfPid = new HashMap<>();
    private final Map<Long, Runnable> afterWrite = new HashMap<>();
    private final Map<Long, Integer> flushesOutstanding = new HashMap<>();
    private final Map<Long, Runnable> afterFlush = new HashMap<>();
    private final ActorRef<Vcpu.FlushDone> flushAdapter;
    private final ActorRef<Vcpu.Finished> finishedAdapter;
    private long nextToken = 1;
    private int nextVcpu;

    private ActorRef<VmStats> runReplyTo;
    private final VcpuStats[] finished;
    private int finishedCount;

    private final List<ActorRef<VmStats>> statsWaiters = new ArrayList<>();
    private final VcpuStats[] polled;
    private int polledCount;

    public static Behavior<Command> create(Config config) {
        return Behaviors.setup(ctx -> new GuestVm(ctx, config));
    }

    /**
     * A VM on a host process: guest RAM is the anonymous mapping {@code [hvaBase, hvaBase + memory)} of the VMM
     * process {@code vmm}; its KvmMmu (one memslot over all of it) is spawned as a child of the VM.
     */
    public static Behavior<Command> onHost(HostVm spec) {
        return Behaviors.setup(ctx -> {
            long frames = spec.guest().guestFrames();
            // KVM's sptes and the vCPUs' TLBs share the VM's agent: one grant covers them, one fence revokes them.
            KvmView view = new KvmView(spec.tdp(), frames, spec.agent());
            List<Memslot> slots = List.of(new Memslot(0, 0, frames, spec.hvaBase(), false));
            String kvmName = spec.name() + "-kvm";
            KvmAgentCapture events = new KvmAgentCapture(spec.host().events(), kvmName);
            ActorRef<KvmCommand> kvm = ctx.spawn(KvmMmu.create(new KvmMmu.Config(kvmName, spec.vmm(),
                    spec.vmmId(), slots, view, spec.host().memory(), events, spec.sequenceStart(), spec.host().settings().variant())), "kvm");
            KvmMmuPort port = new KvmMmuPort(view, kvm, events);
            Config c = new Config(spec.name(), spec.agent(), port, spec.host().memory(), spec.host().events(),
                    spec.guest().vcpus(), spec.guest().tlb(), spec.guest().sliceAccesses(),
                    spec.host().settings().tlb().flushAllThreshold(), spec.guest().goldenCheck());
            GuestVm vm = new GuestVm(ctx, c);
            vm.kvm = kvm;
            return vm;
        });
    }

    /**
     * What {@link #onHost} needs.
     *
     * @param vmm     the VMM process ("QEMU") whose memory backs guest RAM
     * @param vmmId   its mm id
     * @param hvaBase where guest RAM starts in the VMM's address space ({@code guest.memoryBytes()} long)
     * @param tdp     TDP (EPT-like) paging, or shadow paging
     */
    public record HostVm(String name, long agent, HostContext host, GuestSettings guest, ActorRef<MmCommand> vmm,
                         long vmmId, long hvaBase, boolean tdp, long sequenceStart) {
    }

    private GuestVm(ActorContext<Command> context, Config cfg) {
        super(context);
        this.cfg = cfg;
        cfg.events().agentNamed(cfg.agent(), "vm " + cfg.name());
        this.os = new GuestOs(cfg.kvm().guestFrames());
        this.kernelWrites = cfg.kvm().connectKernel(context, Written::new);
        this.flushAdapter = context.messageAdapter(Vcpu.FlushDone.class, Flushed::new);
        this.finishedAdapter = context.messageAdapter(Vcpu.Finished.class, VcpuFinished::new);
        ActorRef<Vcpu.GuestPageFault> faults = context.messageAdapter(Vcpu.GuestPageFault.class, WrappedFault::new);
        for (int i = 0; i < cfg.vcpus(); i++) {
            Vcpu.Config vc = new Vcpu.Config(i, cfg.agent(), cfg.kvm(), cfg.memory(), cfg.events(), cfg.tlb(),
                    cfg.sliceAccesses(), cfg.flushAllThreshold(), cfg.goldenCheck(), faults);
            vcpus.add(context.spawn(Vcpu.create(vc), "vcpu-" + i));
        }
        this.finished = new VcpuStats[cfg.vcpus()];
        this.polled = new VcpuStats[cfg.vcpus()];
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Spawn.class, this::onSpawn)
                .onMessage(MoreWork.class, this::onMoreWork)
                .onMessage(Run.class, this::onRun)
                .onMessage(Unmap.class, this::onUnmap)
                .onMessage(Protect.class, this::onProtect)
                .onMessage(InflateBalloon.class, this::onInflate)
                .onMessage(DeflateBalloon.class, this::onDeflate)
                .onMessage(GetStats.class, this::onGetStats)
                .onMessage(GetKvmStats.class, this::onGetKvmStats)
                .onMessage(WrappedFault.class, this::onFault)
                .onMessage(Written.class, this::onWritten)
                .onMessage(Flushed.class, this::onFlushed)
                .onMessage(VcpuFinished.class, this::onVcpuFinished)
                .onMessage(VcpuStatsReply.class, this::onVcpuStats)
                .build();
    }

    private Behavior<Command> onSpawn(Spawn m) {
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn(m.name(), m.vmas(), w);
        if (p == null) {
            m.replyTo().tell(new Spawned(0, 0, -1));
            return this;
        }
        int vcpu = nextVcpu++ % vcpus.size();
        vcpuOfPid.put(p.pid(), vcpu);
        writeThen(w, () -> {
            vcpus.get(vcpu).tell(new Vcpu.AddProcess(p.pid(), p.cr3(), m.workload()));
            m.replyTo().tell(new Spawned(p.pid(), p.cr3(), vcpu));
        });
        return this;
    }

    private Behavior<Command> onMoreWork(MoreWork m) {
        Integer vcpu = vcpuOfPid.get(m.pid());
        GuestProcess p = os.process(m.pid());
        if (vcpu != null && p != null) {
            vcpus.get(vcpu).tell(new Vcpu.AddProcess(p.pid(), p.cr3(), m.workload()));
        }
        return this;
    }

    private Behavior<Command> onRun(Run m) {
        runReplyTo = m.replyTo();
        finishedCount = 0;
        for (ActorRef<Vcpu.Command> v : vcpus) {
            v.tell(new Vcpu.Start(finishedAdapter));
        }
        return this;
    }

    private Behavior<Command> onFault(WrappedFault m) {
        Vcpu.GuestPageFault f = m.fault();
        GuestWrites w = new GuestWrites();
        GuestFaultResult r = os.pageFault(f.pid(), f.gva(), f.write(), w);
        writeThen(w, () -> f.replyTo().tell(new Vcpu.GuestFaultHandled(r)));
        return this;
    }

    private Behavior<Command> onUnmap(Unmap m) {
        GuestWrites w = new GuestWrites();
        List<Long> freed = new ArrayList<>();
        long pages = os.unmap(m.pid(), m.start(), m.end(), w, freed);
        long startVpn = GuestLayout.vpn(m.start());
        long endVpn = GuestLayout.vpn(m.end() + GuestLayout.PAGE_SIZE - 1);
        writeThen(w, () -> shootdown(startVpn, endVpn, () -> {
            os.releaseFrames(freed);
            Integer vcpu = vcpuOfPid.get(m.pid());
            if (vcpu != null) {
                vcpus.get(vcpu).tell(new Vcpu.Forget(m.pid(), startVpn, endVpn));
            }
            m.replyTo().tell(pages);
        }));
        return this;
    }

    private Behavior<Command> onProtect(Protect m) {
        GuestWrites w = new GuestWrites();
        long pages = os.protect(m.pid(), m.start(), m.end(), m.writable(), w);
        long startVpn = GuestLayout.vpn(m.start());
        long endVpn = GuestLayout.vpn(m.end() + GuestLayout.PAGE_SIZE - 1);
        writeThen(w, () -> shootdown(startVpn, endVpn, () -> m.replyTo().tell(pages)));
        return this;
    }

    private Behavior<Command> onInflate(InflateBalloon m) {
        m.replyTo().tell(new Ballooned(os.inflateBalloon(m.pages())));
        return this;
    }

    private Behavior<Command> onDeflate(DeflateBalloon m) {
        os.deflateBalloon(m.gfns());
        return this;
    }

    private Behavior<Command> onGetStats(GetStats m) {
        statsWaiters.add(m.replyTo());
        if (statsWaiters.size() == 1) {
            polledCount = 0;
            ActorRef<VcpuStats> adapter = getContext().messageAdapter(VcpuStats.class, VcpuStatsReply::new);
            for (ActorRef<Vcpu.Command> v : vcpus) {
                v.tell(new Vcpu.GetStats(adapter));
            }
        }
        return this;
    }

    private Behavior<Command> onGetKvmStats(GetKvmStats m) {
        if (kvm != null) {
            kvm.tell(new KvmCommand.GetStats(m.replyTo()));
        }
        return this;
    }

    private Behavior<Command> onVcpuStats(VcpuStatsReply m) {
        polled[m.stats().vcpu()] = m.stats();
        if (++polledCount == vcpus.size()) {
            VmStats s = summary(polled);
            statsWaiters.forEach(r -> r.tell(s));
            statsWaiters.clear();
        }
        return this;
    }

    private Behavior<Command> onVcpuFinished(VcpuFinished m) {
        finished[m.finished().vcpu()] = m.finished().stats();
        if (++finishedCount == vcpus.size() && runReplyTo != null) {
            runReplyTo.tell(summary(finished));
            runReplyTo = null;
        }
        return this;
    }

    private VmStats summary(VcpuStats[] per) {
        VcpuStats total = VcpuStats.empty(-1);
        for (VcpuStats s : per) {
            total = total.plus(s);
        }
        return new VmStats(cfg.name(), total, List.of(per.clone()), os.pageFaults(), os.segvs(),
                os.pageTableRepairs(), os.allocator().freeFrames(), os.allocator().totalFrames());
    }

    // ---- guest memory writes and TLB shootdowns -------------------------------------------------------------

    private void writeThen(GuestWrites w, Runnable then) {
        if (w.isEmpty()) {
            then.run();
            return;
        }
        long token = nextToken++;
        afterWrite.put(token, then);
        kernelWrites.write(token, w.gpas(), w.values());
    }

    private Behavior<Command> onWritten(Written m) {
        Runnable then = afterWrite.remove(m.token());
        if (then != null) {
            then.run();
        }
        return this;
    }

    /** A guest TLB shootdown: every vCPU flushes the pages and acknowledges before {@code then} runs. */
    private void shootdown(long startVpn, long endVpn, Runnable then) {
        long request = nextToken++;
        flushesOutstanding.put(request, vcpus.size());
        afterFlush.put(request, then);
        for (ActorRef<Vcpu.Command> v : vcpus) {
            v.tell(Vcpu.FlushTlb.range(request, startVpn, endVpn, flushAdapter));
        }
    }

    private Behavior<Command> onFlushed(Flushed m) {
        long request = m.done().request();
        Integer left = flushesOutstanding.get(request);
        if (left == null) {
            return this;
        }
        if (left > 1) {
            flushesOutstanding.put(request, left - 1);
        } else {
            flushesOutstanding.remove(request);
            Runnable then = afterFlush.remove(request);
            if (then != null) {
                then.run();
            }
        }
        return this;
    }
}
