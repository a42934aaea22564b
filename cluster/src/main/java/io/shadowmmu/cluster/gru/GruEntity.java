package io.shadowmmu.cluster.gru;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import io.shadowmmu.cluster.protocol.CrossNode;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.workload.GruProcess;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.vma.Protection;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;

/**
 * One GRU device and its user process, placed by Cluster Sharding: wherever its shard lives, the entity starts a
 * host process on that node's host and a {@link GruDevice} over that node's memory. A {@link Run} is one job of the
 * user process: it maps a fresh region, opens a device context on it and issues seeded loads, stores and AMOs
 * through the device ({@link GruProcess}, checked against its golden copy so a stale device translation is an I1
 * violation on this node's oracle), then unmaps the region (the device flushes it). A {@link Flush} mprotects the
 * running job's region read-only and back, so the device's TLB is shot down in the middle of the job. Jobs run one
 * at a time; the hand-off stop makes the process exit (its frames go back to the node it leaves) and answers the
 * job in progress as lost.
 */
public final class GruEntity extends AbstractBehavior<GruEntity.Command> {

    public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "shadowmmu-gru");

    public interface Command {
    }

    /** One job of {@code instructions} instructions (seeded by {@code seed}) through the device. */
    public record Run(long instructions, long seed, ActorRef<Ran> replyTo) implements Command, CrossNode {
    }

    /**
     * @param node         the node the device runs on
     * @param checkedReads loads and AMOs the golden copy checked; {@code staleReads} of them read something else
     * @param deviceFlushes the device's flush commands so far
     * @param error        null when the job ran to its end
     */
    public record Ran(String gru, String node, long instructions, long hostFaults, long checkedReads,
                      long staleReads, long deviceFlushes, String error) implements CrossNode {
    }

    /** mprotect the running job's region read-only and back ({@code flushed} false when no job was running). */
    public record Flush(ActorRef<Flushed> replyTo) implements Command, CrossNode {
    }

    public record Flushed(String gru, String node, boolean flushed) implements CrossNode {
    }

    /** Sharding's hand-off stop: the user process exits, so its frames go back to its node. */
    public enum Stop implements Command {
        INSTANCE
    }

    private record Spawned(HostCommand.ProcessSpawned process, String error) implements Command {
    }

    private record Mapped(long start, String error) implements Command {
    }

    private record Finished(GruProcess.Result result) implements Command {
    }

    private record Unmapped(GruProcess.Result result, String error) implements Command {
    }

    private record Stats(GruProcess.Result result, GruStats stats) implements Command {
    }

    private record Reprotected(Flush flush, boolean ok) implements Command {
    }

    private static final Duration STEP = Duration.ofSeconds(30);

    private final String id;
    private final String node;
    private final GruSettings gru;
    private final int regionPages;
    private final CoherenceEvents golden;
    private final ActorRef<GruCommand> device;
    private final ArrayDeque<Run> waiting = new ArrayDeque<>();
    private HostCommand.ProcessSpawned process;
    private String broken;
    private Run running;
    private long regionStart = -1;
    private long jobs;

    /**
     * The entity behaviour on one node: {@code host} and {@code memory} are that node's. {@code regionPages} pages
     * of fresh anonymous memory per job.
     */
    public static Behavior<Command> create(String id, ActorRef<HostCommand> host, PhysicalMemory memory,
                                           GruSettings gru, int regionPages) {
        return Behaviors.setup(ctx -> new GruEntity(ctx, id, host, memory, gru, regionPages));
    }

    private GruEntity(ActorContext<Command> ctx, String id, ActorRef<HostCommand> host, PhysicalMemory memory,
                      GruSettings gru, int regionPages) {
        super(ctx);
        this.id = id;
        akka.actor.Address address = ctx.getSystem().address();
        this.node = address.getHost().get() + ":" + address.getPort().get(); // as ClusterNode.hostPort()
        this.gru = gru;
        this.regionPages = regionPages;
        // I1 needs word contents and is the oracle's: checked in check mode with FULL contents only.
        this.golden = memory.checkMode() && memory.contentMode() == ContentMode.FULL ? memory.events() : null;
        this.device = ctx.spawn(GruDevice.create("gru-" + id, gru, memory), "device");
        ctx.ask(HostCommand.ProcessSpawned.class, host, STEP, r -> new HostCommand.SpawnProcess("gru-user-" + id, r),
                (spawned, failure) -> new Spawned(spawned, spawned == null ? "no process: " + failure : null));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Spawned.class, this::onSpawned)
                .onMessage(Run.class, this::onRun)
                .onMessage(Mapped.class, this::onMapped)
                .onMessage(Finished.class, this::onFinished)
                .onMessage(Unmapped.class, this::onUnmapped)
                .onMessage(Stats.class, this::onStats)
                .onMessage(Flush.class, this::onFlush)
                .onMessage(Reprotected.class, this::onReprotected)
                .onMessageEquals(Stop.INSTANCE, this::onStop)
                .build();
    }

    private Behavior<Command> onSpawned(Spawned s) {
        if (s.error() != null) {
            broken = s.error();
            getContext().getLog().warn("GRU {} could not start: {}", id, broken);
        } else {
            process = s.process();
        }
        return nextJob();
    }

    private Behavior<Command> onRun(Run r) {
        waiting.add(r);
        return running == null ? nextJob() : this;
    }

    /** Starts the next waiting job, if the process is up and no job runs. */
    private Behavior<Command> nextJob() {
        while (running == null && !waiting.isEmpty() && (process != null || broken != null)) {
            Run r = waiting.poll();
            if (broken != null) {
                r.replyTo().tell(new Ran(id, node, 0, 0, 0, 0, 0, broken));
                continue;
            }
            running = r;
            getContext().ask(MmResult.class, process.process(), STEP,
                    reply -> MmCommand.Mmap.anonymous(regionPages * PhysicalMemory.PAGE_SIZE, Protection.READ_WRITE,
                            reply),
                    (mapped, failure) -> mapped instanceof MmResult.Done
                            ? new Mapped(((MmResult.Done) mapped).value(), null)
                            : new Mapped(-1, "no region: " + (mapped != null ? mapped : failure)));
        }
        return this;
    }

    private Behavior<Command> onMapped(Mapped m) {
        if (m.error() != null) {
            return answer(new Ran(id, node, 0, 0, 0, 0, 0, m.error()));
        }
        regionStart = m.start();
        jobs++;
        List<Range> regions = List.of(Range.ofPages(m.start(), regionPages));
        ActorRef<GruProcess.Result> done = getContext().messageAdapter(GruProcess.Result.class, Finished::new);
        getContext().spawn(GruProcess.create(device, process.process(), process.mm(), "gru-user-" + id, regions, gru,
                running.seed(), running.instructions(), () -> false, golden, done), "job-" + jobs);
        return this;
    }

    private Behavior<Command> onFinished(Finished f) {
        long start = regionStart;
        regionStart = -1; // no flush of a region on its way out
        getContext().ask(MmResult.class, process.process(), STEP,
                reply -> new MmCommand.Munmap(start, regionPages * PhysicalMemory.PAGE_SIZE, reply),
                (r, failure) -> new Unmapped(f.result(), r != null && r.ok() ? null : "munmap: " + (r != null ? r
                        : failure)));
        return this;
    }

    private Behavior<Command> onUnmapped(Unmapped u) {
        if (u.error() != null) {
            return answer(new Ran(id, node, u.result().instructions(), u.result().hostFaults(),
                    u.result().checkedReads(), u.result().staleReads(), 0, u.error()));
        }
        getContext().ask(GruStats.class, device, STEP, GruCommand.GetStats::new,
                (stats, failure) -> new Stats(u.result(), stats));
        return this;
    }

    private Behavior<Command> onStats(Stats s) {
        GruProcess.Result r = s.result();
        return answer(new Ran(id, node, r.instructions(), r.hostFaults(), r.checkedReads(), r.staleReads(),
                s.stats() != null ? s.stats().flushes() : -1, r.gone() ? "the context vanished" : null));
    }

    private Behavior<Command> answer(Ran ran) {
        running.replyTo().tell(ran);
        running = null;
        return nextJob();
    }

    private Behavior<Command> onFlush(Flush f) {
        if (running == null || regionStart < 0) {
            f.replyTo().tell(new Flushed(id, node, false));
            return this;
        }
        long start = regionStart;
        long length = regionPages * PhysicalMemory.PAGE_SIZE;
        ActorRef<MmCommand> mm = process.process();
        // Read-only drops every writable device translation (the process's stores meanwhile take host faults,
        // denied: skipped); read-write again lets the job go on. Contents are kept, so the golden copy holds.
        getContext().ask(MmResult.class, mm, STEP, reply -> new MmCommand.Mprotect(start, length, Protection.READ,
                reply), (r, failure) -> {
            mm.tell(new MmCommand.Mprotect(start, length, Protection.READ_WRITE, getContext().getSystem().ignoreRef()));
            return new Reprotected(f, r != null && r.ok());
        });
        return this;
    }

    private Behavior<Command> onReprotected(Reprotected r) {
        r.flush().replyTo().tell(new Flushed(id, node, r.ok()));
        return this;
    }

    private Behavior<Command> onStop() {
        if (running != null) {
            running.replyTo().tell(new Ran(id, node, 0, 0, 0, 0, 0, "moved: its node handed the shard off"));
        }
        for (Run r : waiting) {
            r.replyTo().tell(new Ran(id, node, 0, 0, 0, 0, 0, "moved: its node handed the shard off"));
        }
        if (process != null) {
            process.process().tell(new MmCommand.Exit(getContext().getSystem().ignoreRef()));
        }
        return Behaviors.stopped();
    }
}
