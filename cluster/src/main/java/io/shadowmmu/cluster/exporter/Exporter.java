package io.shadowmmu.cluster.exporter;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.HashMap;
import java.util.Map;

/**
 * One per node: the table of exported segments ({@code xpmem_make}) and the door importers on other nodes knock on
 * ({@code xpmem_get} + {@code xpmem_attach}). Registered with the Receptionist under {@link #KEY}, so any node finds
 * every exporter of the cluster without a central directory. Each attach gets its own {@link ExportProxy}.
 */
public final class Exporter extends AbstractBehavior<ToExporter> {

    public static final ServiceKey<ToExporter> KEY = ServiceKey.create(ToExporter.class, "shadowmmu-exporter");

    /** Export {@code [start, start + length)} of a local process; replies the segment id. Local only. */
    public record Export(ActorRef<MmCommand> mm, long mmId, long start, long length, boolean writable,
                         ActorRef<Exported> replyTo) implements ToExporter {
    }

    /** @param error null on success, else why nothing was exported (segment is then -1) */
    public record Exported(long segment, String error) {
    }

    /** The exporting process is gone: its segments with it ({@code xpmem_remove} on exit). */
    private record ProcessGone(ActorRef<MmCommand> mm) implements ToExporter {
    }

    private final PhysicalMemory memory;
    private final ExporterCounters counters;
    private final ClusterSettings settings;
    private final Map<Long, Segment> segments = new HashMap<>();
    private final Map<ActorRef<MmCommand>, java.util.List<Long>> segmentsOf = new HashMap<>();
    private long nextSegment = 1;
    private long nextAttachment = 1;

    public static Behavior<ToExporter> create(PhysicalMemory memory, ExporterCounters counters,
                                              ClusterSettings settings) {
        return Behaviors.setup(ctx -> new Exporter(ctx, memory, counters, settings));
    }

    private Exporter(ActorContext<ToExporter> context, PhysicalMemory memory, ExporterCounters counters,
                     ClusterSettings settings) {
        super(context);
        this.memory = memory;
        this.counters = counters;
        this.settings = settings;
        context.getSystem().receptionist().tell(Receptionist.register(KEY, context.getSelf()));
    }

    @Override
    public Receive<ToExporter> createReceive() {
        return newReceiveBuilder()
                .onMessage(Export.class, this::onExport)
                .onMessage(ToExporter.Attach.class, this::onAttach)
                .onMessage(ProcessGone.class, g -> {
                    for (Long id : segmentsOf.remove(g.mm())) {
                        segments.remove(id);
                    }
                    return this;
                })
                .build();
    }

    private Behavior<ToExporter> onExport(Export e) {
        if (e.length() <= 0 || (e.start() & (PhysicalMemory.PAGE_SIZE - 1)) != 0
                || (e.length() & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {
            e.replyTo().tell(new Exported(-1, "export of mm " + e.mmId() + " at 0x" + Long.toHexString(e.start())
                    + " length " + e.length() + ": start and length must be whole pages"));
            return this;
        }
        long id = nextSegment++;
        segments.put(id, new Segment(id, e.mm(), e.mmId(), e.start(), e.length(), e.writable()));
        if (!segmentsOf.containsKey(e.mm())) {
            segmentsOf.put(e.mm(), new java.util.ArrayList<>());
            getContext().watchWith(e.mm(), new ProcessGone(e.mm()));
        }
        segmentsOf.get(e.mm()).add(id);
        e.replyTo().tell(new Exported(id, null));
        return this;
    }

    private Behavior<ToExporter> onAttach(ToExporter.Attach a) {
        Segment s = segments.get(a.segment());
        if (s == null) {
            a.importer().tell(new ToImporter.AttachRefused(a.segment(), "no segment " + a.segment() + " on "
                    + getContext().getSystem().address()));
            return this;
        }
        long id = nextAttachment++;
        getContext().spawn(ExportProxy.create(s, id, a.importer(), memory, counters, settings), "attach-" + id);
        return this;
    }
}
