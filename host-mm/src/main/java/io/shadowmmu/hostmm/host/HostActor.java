package io.shadowmmu.hostmm.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.ForkedChild;
import io.shadowmmu.hostmm.mm.MmActor;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmIds;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.config.PressureSettings;
import io.shadowmmu.hostmm.pressure.AuditPause;
import io.shadowmmu.hostmm.pressure.KsmScanner;
import io.shadowmmu.hostmm.pressure.Migrator;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.hostmm.pressure.Reclaimer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The host kernel of one node: its process table (one {@link MmActor} each), its files, and the operations that
 * span processes: truncate reaches every mm mapping the file, stats and the I5 audit ask every mm.
 */
public final class HostActor extends AbstractBehavior<HostCommand> {

    /** From a parent mm: its fork copied the address space, give the child an actor. */
    public record AdoptForked(ForkedChild child, ActorRef<MmCommand.ForkResult> replyTo)
            implements HostCommand.Internal {
    }

    /** From an mm that finished exiting. */
    public record MmExited(long mm) implements HostCommand.Internal {
    }

    /** Every pressure daemon answered an audit's pause (or the wait for them timed out). */
    private record DaemonsPaused(HostCommand.Audit audit) implements HostCommand.Internal {
    }

    /** How long a cross-mm query waits for every mm before answering with what it has. */
    static final Duration QUERY_TIMEOUT = Duration.ofSeconds(5);

    private final HostContext host;
    private final PressureCounters pressure = new PressureCounters();
    private final Map<Long, ActorRef<MmCommand>> processes = new LinkedHashMap<>();
    private final Map<Long, String> names = new LinkedHashMap<>();
    /** Reclaim, migration and KSM, as far as the audit needs them: paused while it counts. */
    private final List<ActorRef<AuditPause>> daemons = new ArrayList<>();

    public static Behavior<HostCommand> create(HostContext host) {
        return Behaviors.setup(ctx -> new HostActor(ctx, host));
    }

    private HostActor(ActorContext<HostCommand> context, HostContext host) {
        super(context);
        this.host = host;
        PressureSettings p = host.settings().pressure();
        if (p.reclaimEnabled()) {
            daemons.add(context.spawn(Reclaimer.create(host, pressure), "reclaim").narrow());
        }
        if (p.migrationEnabled()) {
            daemons.add(context.spawn(Migrator.create(host, pressure), "migration").narrow());
        }
        if (p.ksmEnabled()) {
            daemons.add(context.spawn(KsmScanner.create(host, pressure), "ksm").narrow());
        }
    }

    @Override
    public Receive<HostCommand> createReceive() {
        return newReceiveBuilder()
                .onMessage(HostCommand.SpawnProcess.class, this::onSpawn)
                .onMessage(AdoptForked.class, this::onAdopt)
                .onMessage(MmExited.class, this::onExited)
                .onMessage(HostCommand.CreateFile.class, this::onCreateFile)
                .onMessage(HostCommand.DeleteFile.class, this::onDeleteFile)
                .onMessage(HostCommand.Truncate.class, this::onTruncate)
                .onMessage(HostCommand.GetHostStats.class, this::onStats)
                .onMessage(HostCommand.Audit.class, this::onAudit)
                .onMessage(DaemonsPaused.class, this::onDaemonsPaused)
                .onMessage(HostCommand.GetPressureStats.class, g -> {
                    g.replyTo().tell(pressure.snapshot(host.swap().reads(), host.swap().usedSlots()));
                    return this;
                })
                .build();
    }

    private Behavior<HostCommand> onSpawn(HostCommand.SpawnProcess s) {
        long mm = MmIds.next();
        ActorRef<MmCommand> ref = getContext().spawn(MmActor.create(host, getContext().getSelf(), mm, s.name()),
                "mm-" + mm);
        processes.put(mm, ref);
        host.processes().put(mm, ref);
        names.put(mm, s.name());
        s.replyTo().tell(new HostCommand.ProcessSpawned(mm, s.name(), ref));
        return this;
    }

    private Behavior<HostCommand> onAdopt(AdoptForked a) {
        long mm = a.child().mm();
        ActorRef<MmCommand> ref = getContext().spawn(MmActor.createForked(host, getContext().getSelf(), a.child()),
                "mm-" + mm);
        processes.put(mm, ref);
        host.processes().put(mm, ref);
        names.put(mm, a.child().name());
        a.replyTo().tell(new MmCommand.ForkResult(MmResult.Done.ZERO, mm, ref));
        return this;
    }

    private Behavior<HostCommand> onExited(MmExited e) {
        processes.remove(e.mm());
        host.processes().remove(e.mm());
        names.remove(e.mm());
        return this;
    }

    private Behavior<HostCommand> onCreateFile(HostCommand.CreateFile c) {
        MemFile file = new MemFile(c.name(), Math.max(0, c.sizeBytes()), host.memory());
        host.files().add(file);
        c.replyTo().tell(new HostCommand.FileCreated(file));
        return this;
    }

    private Behavior<HostCommand> onDeleteFile(HostCommand.DeleteFile d) {
        if (!d.file().mappers().isEmpty()) {
            d.replyTo().tell(new MmResult.Failed(Errno.EINVAL, d.file() + " is still mapped by "
                    + d.file().mappers().size() + " process(es)"));
            return this;
        }
        for (int pfn : d.file().evictAll()) {
            host.memory().put(pfn);
        }
        host.files().remove(d.file());
        d.replyTo().tell(MmResult.Done.ZERO);
        return this;
    }

    /**
     * truncate: the new size first (so new faults beyond it get SIGBUS), the page cache next, then every mapper
     * unmaps; the page cache's references are dropped once all have answered.
     */
    private Behavior<HostCommand> onTruncate(HostCommand.Truncate t) {
        long firstGone = (t.newSizeBytes() + 4095) / 4096;
        List<Integer> dropped = t.file().truncate(Math.max(0, t.newSizeBytes()));
        List<ActorRef<MmCommand>> targets = new ArrayList<>();
        for (Object handle : t.file().mappers().values()) {
            if (handle instanceof ActorRef) {
                @SuppressWarnings("unchecked")
                ActorRef<MmCommand> ref = (ActorRef<MmCommand>) handle;
                targets.add(ref);
            }
        }
        getContext().spawnAnonymous(Gatherer.<MmCommand, MmResult>create(targets,
                replyTo -> new MmCommand.UnmapFileRange(t.file(), firstGone, replyTo), MmResult.class,
                results -> {
                    for (int pfn : dropped) {
                        host.memory().put(pfn);
                    }
                    t.replyTo().tell(MmResult.Done.ZERO);
                }));
        return this;
    }

    private Behavior<HostCommand> onStats(HostCommand.GetHostStats g) {
        List<ActorRef<MmCommand>> targets = List.copyOf(processes.values());
        getContext().spawnAnonymous(Gatherer.<MmCommand, MmStats>create(targets, MmCommand.GetStats::new,
                MmStats.class, results -> {
                    long pending = 0;
                    for (MmStats s : results) {
                        pending += s.pendingFreeFrames();
                    }
                    long cache = 0;
                    for (MemFile f : host.files()) {
                        cache += f.cachedPages();
                    }
                    g.replyTo().tell(new HostCommand.HostStats(host.memory().totalFrames(),
                            host.memory().freeFrames(), pending, cache, results));
                }));
        return this;
    }

    /** The pressure daemons are paused first: the count is exact only while nothing evicts, migrates or merges. */
    private Behavior<HostCommand> onAudit(HostCommand.Audit a) {
        ActorRef<HostCommand> self = getContext().getSelf();
        getContext().spawnAnonymous(Gatherer.<AuditPause, AuditPause.Paused>create(daemons, AuditPause.Pause::new,
                AuditPause.Paused.class, paused -> self.tell(new DaemonsPaused(a))));
        return this;
    }

    private Behavior<HostCommand> onDaemonsPaused(DaemonsPaused d) {
        List<ActorRef<MmCommand>> targets = List.copyOf(processes.values());
        List<ActorRef<AuditPause>> paused = List.copyOf(daemons);
        getContext().spawnAnonymous(Gatherer.<MmCommand, MmCommand.FrameAudit>create(targets,
                MmCommand.GetFrameAudit::new, MmCommand.FrameAudit.class,
                results -> {
                    HostCommand.AuditReport report = FrameAuditor.audit(host, results);
                    paused.forEach(daemon -> daemon.tell(AuditPause.Resume.INSTANCE));
                    d.audit().replyTo().tell(report);
                }));
        return this;
    }
}
