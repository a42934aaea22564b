package io.shadowmmu.cluster.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.StashBuffer;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import io.shadowmmu.cluster.importer.ImportedRam;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.CrossNode;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.kvm.KvmCommand;
import io.shadowmmu.kvm.KvmMmu;
import io.shadowmmu.kvm.KvmView;
import io.shadowmmu.kvm.Memslot;
import io.shadowmmu.kvm.Spte;

import java.time.Duration;
import java.util.List;

/**
 * One VM placed by Cluster Sharding: wherever its shard lives, the entity starts the VM's host process ("QEMU") on
 * that node's host, with the guest RAM in that node's memory, and a KVM MMU over it. A {@link Touch} is one guest
 * access by the VM's vCPU: a hit in KVM's tables reads or writes the local frame directly; a miss is a TDP fault
 * first. When its node leaves, sharding starts the VM again on another node (with fresh RAM: guest state that must
 * survive lives in imported memory, see docs/cluster.md).
 */
public final class VmEntity {

    public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "shadowmmu-vm");

    public interface Command {
    }

    /** One guest access to word {@code word} of guest frame {@code gfn}. */
    public record Touch(long gfn, int word, boolean write, long value, ActorRef<Touched> replyTo)
            implements Command, CrossNode {
    }

    /** @param node the node the VM runs on; {@code error} null when the access completed */
    public record Touched(String vm, String node, long value, boolean fault, String error) implements CrossNode {
    }

    /** Sharding's hand-off stop: the VM's process exits, so its frames go back to its node. */
    public enum Stop implements Command {
        INSTANCE
    }

    private record Ready(ActorRef<MmCommand> process, long mm, ActorRef<KvmCommand> kvm) implements Command {
    }

    private record Failed(String why) implements Command {
    }

    private record Faulted(Touch touch, KvmCommand.FaultReply reply) implements Command {
    }

    /** Imported RAM: ask the importer for its file again (it has none until its first attach). */
    private enum AskFile implements Command {
        INSTANCE
    }

    /** @param file null while the importer has none */
    private record FileKnown(MemFile file) implements Command {
    }

    private record ImporterGone(ActorRef<MmCommand> process) implements Command {
    }

    /**
     * Where a VM's guest RAM comes from when it is imported: segment {@code segment} of {@code exporter} (another
     * node's, as a rule), mapped by ranges of {@code blockPages}.
     */
    public record ImportedGuestRam(ActorRef<ToExporter> exporter, long segment, int blockPages, Duration backoff) {
    }

    private static final Duration FILE_POLL = Duration.ofMillis(20);

    private VmEntity() {
    }

    /** The entity behaviour on one node: {@code host} and {@code memory} are that node's; fresh local RAM. */
    public static Behavior<Command> create(String vm, ActorRef<HostCommand> host, PhysicalMemory memory,
                                           int guestPages) {
        return create(vm, host, memory, guestPages, null);
    }

    /**
     * As above; with {@code imported} non-null the guest RAM is that segment, imported by ranges: the VM's process
     * maps the copying importer's file and KVM reaches it through {@link ImportedRam}, so guest state lives in the
     * exporter and survives a move (what the guest wrote goes back on every invalidation and on the hand-off).
     */
    public static Behavior<Command> create(String vm, ActorRef<HostCommand> host, PhysicalMemory memory,
                                           int guestPages, ImportedGuestRam imported) {
        return Behaviors.withStash(1_000, stash -> Behaviors.setup(ctx -> {
            KvmView view = new KvmView(true, guestPages);
            ctx.ask(HostCommand.ProcessSpawned.class, host, Duration.ofSeconds(30),
                    r -> new HostCommand.SpawnProcess("qemu-" + vm, r),
                    (spawned, failure) -> spawned == null ? new Failed("no process: " + failure)
                            : new Ready(spawned.process(), spawned.mm(), null));
            ActorRef<ToImporter> importer = null;
            if (imported != null) {
                importer = ctx.spawn(Importer.copying(imported.exporter(), imported.segment(),
                        new Importer.Copying(host, memory, imported.blockPages()), Duration.ZERO, 1,
                        imported.backoff(), Variant.NONE), "ram");
                ctx.watchWith(importer, new Failed("its guest RAM's importer stopped"));
                ctx.getSelf().tell(AskFile.INSTANCE);
            }
            return new Start(ctx, stash, vm, memory, view, guestPages, importer).behavior();
        }));
    }

    /** The start: the process (and, for imported RAM, the importer's file) first, then the RAM, then KVM. */
    private static final class Start {
        final ActorContext<Command> ctx;
        final StashBuffer<Command> stash;
        final String vm;
        final PhysicalMemory memory;
        final KvmView view;
        final int guestPages;
        final ActorRef<ToImporter> importer;
        Ready process;
        MemFile file;

        Start(ActorContext<Command> ctx, StashBuffer<Command> stash, String vm, PhysicalMemory memory, KvmView view,
              int guestPages, ActorRef<ToImporter> importer) {
            this.ctx = ctx;
            this.stash = stash;
            this.vm = vm;
            this.memory = memory;
            this.view = view;
            this.guestPages = guestPages;
            this.importer = importer;
        }

        Behavior<Command> behavior() {
            return Behaviors.receive(Command.class)
                    .onMessage(Ready.class, r -> {
                        if (r.kvm() != null) {
                            return stash.unstashAll(running(ctx, vm, r.process(), memory, view, r.kvm(), importer));
                        }
                        process = r;
                        mapRam();
                        return Behaviors.same();
                    })
                    .onMessageEquals(AskFile.INSTANCE, () -> {
                        ctx.ask(Importer.FileAnswer.class, importer, Duration.ofSeconds(30), Importer.GetFile::new,
                                (answer, failure) -> answer != null && answer.file() != null
                                        ? new FileKnown(answer.file()) : new FileKnown(null));
                        return Behaviors.same();
                    })
                    .onMessage(FileKnown.class, f -> {
                        if (f.file() == null) {
                            // Not attached yet: the importer has no file. Ask again shortly (a timer, never a wait).
                            ctx.scheduleOnce(FILE_POLL, ctx.getSelf(), AskFile.INSTANCE);
                        } else if (file == null) {
                            file = f.file();
                            mapRam();
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Failed.class, f -> {
                        ctx.getLog().warn("VM {} could not start: {}", vm, f.why());
                        return stop(ctx, process != null ? process.process() : null, importer);
                    })
                    .onMessageEquals(Stop.INSTANCE, () -> stop(ctx, process != null ? process.process() : null,
                            importer))
                    .onAnyMessage(m -> {
                        stash.stash(m);
                        return Behaviors.same();
                    })
                    .build();
        }

        /** Once the process is up (and the importer's file known): map the guest RAM, then start KVM over it. */
        private void mapRam() {
            if (process == null || (importer != null && file == null)) {
                return;
            }
            Ready r = process;
            long length = guestPages * PhysicalMemory.PAGE_SIZE;
            ctx.ask(MmResult.class, r.process(), Duration.ofSeconds(30),
                    reply -> importer == null ? MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, reply)
                            : new MmCommand.Mmap(0, length, Protection.READ_WRITE, VmaKind.FILE_SHARED, file, 0,
                            reply),
                    (mapped, failure) -> {
                        if (!(mapped instanceof MmResult.Done)) {
                            return new Failed("no guest RAM: " + (mapped != null ? mapped : failure));
                        }
                        long hva = ((MmResult.Done) mapped).value();
                        // With imported RAM, KVM reaches the process through the importer's door (ImportedRam).
                        ActorRef<MmCommand> door = importer == null ? r.process()
                                : ctx.spawn(ImportedRam.create(r.process(), importer, hva, length), "ram-door");
                        ActorRef<KvmCommand> kvm = ctx.spawn(KvmMmu.create(new KvmMmu.Config("vm-" + vm, door,
                                r.mm(), List.of(new Memslot(0, 0, guestPages, hva, false)), view, memory,
                                memory.events(), 0)), "kvm");
                        return new Ready(r.process(), r.mm(), kvm);
                    });
        }
    }

    /**
     * Leaves the node: an importer first writes the guest's changes back and detaches (the process still maps its
     * file: it is unmapped from it first); then the process exits, so its frames go back to the node.
     */
    private static Behavior<Command> stop(ActorContext<Command> ctx, ActorRef<MmCommand> process,
                                          ActorRef<ToImporter> importer) {
        if (importer == null) {
            if (process != null) {
                process.tell(new MmCommand.Exit(ctx.getSystem().ignoreRef()));
            }
            return Behaviors.stopped();
        }
        ctx.unwatch(importer);
        ctx.watchWith(importer, new ImporterGone(process));
        importer.tell(Importer.Detach.INSTANCE);
        return Behaviors.receive(Command.class)
                .onMessage(ImporterGone.class, g -> {
                    if (g.process() != null) {
                        g.process().tell(new MmCommand.Exit(ctx.getSystem().ignoreRef()));
                    }
                    return Behaviors.stopped();
                })
                .onMessage(Touch.class, t -> {
                    t.replyTo().tell(new Touched(ctx.getSelf().path().name(), "", 0, false, "the VM is leaving"));
                    return Behaviors.same();
                })
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    private static Behavior<Command> running(ActorContext<Command> ctx, String vm, ActorRef<MmCommand> process,
                                             PhysicalMemory memory, KvmView view, ActorRef<KvmCommand> kvm,
                                             ActorRef<ToImporter> importer) {
        akka.actor.Address address = ctx.getSystem().address();
        String node = address.getHost().get() + ":" + address.getPort().get(); // as ClusterNode.hostPort()
        long[] value = new long[1]; // what the last access read or wrote: the hit path allocates nothing
        return Behaviors.receive(Command.class)
                .onMessage(Touch.class, t -> {
                    long gpa = t.gfn() << PhysicalMemory.PAGE_SHIFT;
                    if (t.gfn() < 0 || t.gfn() >= view.guestFrames()) {
                        t.replyTo().tell(new Touched(vm, node, 0, false, "gfn " + t.gfn() + " is outside RAM"));
                        return Behaviors.same();
                    }
                    if (hit(view, memory, t, value)) {
                        // The guest's hit path: the local frame, nothing allocated but the reply to the driver.
                        t.replyTo().tell(new Touched(vm, node, value[0], false, null));
                        return Behaviors.same();
                    }
                    ctx.ask(KvmCommand.FaultReply.class, kvm, Duration.ofSeconds(30),
                            r -> new KvmCommand.TdpFault(0, gpa, t.write(), r),
                            (reply, failure) -> new Faulted(t, reply));
                    return Behaviors.same();
                })
                .onMessage(Faulted.class, f -> {
                    Touch t = f.touch();
                    boolean resolved = f.reply() instanceof KvmCommand.Resolved;
                    if (resolved && hit(view, memory, t, value)) {
                        t.replyTo().tell(new Touched(vm, node, value[0], true, null));
                    } else if (resolved) {
                        ctx.getSelf().tell(t); // zapped again before we used it: walk again
                    } else {
                        t.replyTo().tell(new Touched(vm, node, 0, true, "fault not resolved: " + f.reply()));
                    }
                    return Behaviors.same();
                })
                .onMessage(Failed.class, f -> {
                    ctx.getLog().warn("VM {} stops: {}", vm, f.why());
                    return stop(ctx, process, null);
                })
                .onMessageEquals(Stop.INSTANCE, () -> stop(ctx, process, importer))
                .build();
    }

    /**
     * The hardware walk and access, inside KVM's grant (a fenced registration voids every spte): true with the value
     * in {@code value[0]}, or false on a miss (no spte, read-only for a write, or the entry changed under the walk).
     */
    private static boolean hit(KvmView view, PhysicalMemory memory, Touch t, long[] value) {
        AccessGrant grant = view.grant();
        if (grant == null || !grant.enter()) {
            return false;
        }
        try {
            long gpa = t.gfn() << PhysicalMemory.PAGE_SHIFT;
            long spte = view.lookup(0, gpa);
            if (spte == Spte.NONE || (t.write() && !Spte.writable(spte)) || !view.markUsed(0, gpa, spte, t.write())) {
                return false;
            }
            int pfn = Spte.pfn(spte);
            if (t.write()) {
                memory.write(pfn, t.word(), t.value());
                value[0] = t.value();
            } else {
                value[0] = memory.read(pfn, t.word());
            }
            return true;
        } finally {
            grant.exit();
        }
    }
}
