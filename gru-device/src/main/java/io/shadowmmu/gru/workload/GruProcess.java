package io.shadowmmu.gru.workload;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.device.DeviceBatch;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.Op;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.util.SplittableRandom;

/**
 * A user process driving a GRU context: it issues seeded batches of loads, stores and AMOs over its region, and when
 * an instruction fails back (no usable PTE) it takes a normal host fault ({@code get_user_pages}) and re-issues from
 * that instruction. A fault the host refuses (SIGSEGV) skips the instruction and is counted. Optionally it also
 * churns its own memory (DONTNEED, mprotect read-only and back, munmap + remap) without waiting, so invalidations
 * race its device batches.
 */
public final class GruProcess extends AbstractBehavior<GruProcess.Command> {

    public sealed interface Command {
    }

    private record Opened(GruCommand.ContextOpened opened) implements Command {
    }

    private record Executed(GruCommand.BatchResult result) implements Command {
    }

    private record Faulted(PageReply reply) implements Command {
    }

    private record HostDone(MmResult result) implements Command {
    }

    /**
     * @param churnEveryBatches 0 for none; otherwise one host memory operation on the region every that many batches
     */
    /** @param base the region's start, or 0 for the process to map an anonymous region of {@code regionBytes} */
    public record Plan(String name, long mmId, ActorRef<MmCommand> mm, ActorRef<GruCommand> device, long base,
                       long regionBytes, long instructions, int batchSize, Mix mix, long seed,
                       int churnEveryBatches) {
        public Plan {
            if (regionBytes < 4096 || regionBytes % 4096 != 0) {
                throw new IllegalArgumentException(name + ": region must be whole pages: " + regionBytes);
            }
            if (batchSize < 1 || instructions < 0) {
                throw new IllegalArgumentException(name + ": batch size " + batchSize + ", instructions "
                        + instructions);
            }
        }
    }

    /** What the process did. */
    public record Report(String name, long instructions, long hostFaults, long segv, long churnOps,
                         long checksum, boolean closed) {
    }

    /** A host fault on the same instruction this many times in a row gives up on it (counted as SIGSEGV). */
    private static final int MAX_FAULTS_PER_INSTRUCTION = 64;

    private final Plan plan;
    private final ActorRef<Report> replyTo;
    private final SplittableRandom random;
    private final ActorRef<GruCommand.BatchResult> results;
    private final ActorRef<PageReply> faults;
    private final ActorRef<MmResult> hostOps;
    private int context = -1;
    private DeviceBatch batch;
    private long issued;
    private long done;
    private long hostFaults;
    private long segv;
    private long churnOps;
    private long churnInFlight;
    private long batches;
    private long checksum;
    private int faultsOnInstruction;
    private int faultIndex;
    private int pending;
    private boolean finished;
    private boolean closedFlag;
    /** The region's start: the plan's, or where the mm placed it when the process maps it itself. */
    private long base;

    public static Behavior<Command> create(Plan plan, ActorRef<Report> replyTo) {
        return Behaviors.setup(ctx -> new GruProcess(ctx, plan, replyTo));
    }

    private GruProcess(ActorContext<Command> context, Plan plan, ActorRef<Report> replyTo) {
        super(context);
        this.plan = plan;
        this.replyTo = replyTo;
        this.random = new SplittableRandom(plan.seed());
        this.results = context.messageAdapter(GruCommand.BatchResult.class, Executed::new);
        this.faults = context.messageAdapter(PageReply.class, Faulted::new);
        this.hostOps = context.messageAdapter(MmResult.class, HostDone::new);
        this.base = plan.base();
        if (base == 0) {
            plan.mm().tell(MmCommand.Mmap.anonymous(plan.regionBytes(), Protection.READ_WRITE, hostOps));
        } else {
            openContext();
        }
    }

    private void openContext() {
        ActorRef<GruCommand.ContextOpened> opened = getContext().messageAdapter(GruCommand.ContextOpened.class,
                Opened::new);
        plan.device().tell(new GruCommand.OpenContext(plan.mmId(), plan.mm(), plan.name(), opened));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Executed.class, this::onExecuted)
                .onMessage(Faulted.class, this::onFaulted)
                .onMessage(HostDone.class, this::onHostDone)
                .onMessage(Opened.class, this::onOpened)
                .build();
    }

    private Behavior<Command> onOpened(Opened o) {
        if (!o.opened().ok()) {
            getContext().getLog().warn("{}: no GRU context: {}", plan.name(), o.opened().detail());
            return finish(true);
        }
        context = o.opened().context();
        return nextBatch();
    }

    private Behavior<Command> nextBatch() {
        if (issued >= plan.instructions()) {
            return finish(false);
        }
        int n = (int) Math.min(plan.batchSize(), plan.instructions() - issued);
        DeviceBatch.Builder b = new DeviceBatch.Builder(n);
        long words = plan.regionBytes() / 8;
        Mix mix = plan.mix();
        for (int i = 0; i < n; i++) {
            int pick = random.nextInt(100);
            Op op = pick < mix.loadPercent() ? Op.LOAD
                    : pick < mix.loadPercent() + mix.storePercent() ? Op.STORE : Op.AMO_ADD;
            long va = base + random.nextLong(words) * 8;
            b.add(op, va, op == Op.AMO_ADD ? 1 : random.nextLong());
        }
        batch = b.build();
        issued += n;
        batches++;
        faultsOnInstruction = 0;
        faultIndex = -1;
        if (plan.churnEveryBatches() > 0 && batches % plan.churnEveryBatches() == 0) {
            churn();
        }
        plan.device().tell(new GruCommand.Execute(context, batch, 0, results));
        return this;
    }

    private Behavior<Command> onExecuted(Executed e) {
        GruCommand.BatchResult r = e.result();
        checksum = checksum * 31 + r.checksum();
        switch (r.status()) {
            case DONE:
                done += batch.size();
                return nextBatch();
            case NEEDS_HOST_FAULT:
                hostFaults++;
                if (r.next() == faultIndex) {
                    faultsOnInstruction++;
                } else {
                    faultIndex = r.next();
                    faultsOnInstruction = 1;
                }
                pending = r.next();
                if (faultsOnInstruction > MAX_FAULTS_PER_INSTRUCTION) {
                    getContext().getLog().warn("{}: giving up on va 0x{} after {} faults", plan.name(),
                            Long.toHexString(r.faultVa()), faultsOnInstruction);
                    segv++;
                    return reissue(pending + 1);
                }
                plan.mm().tell(new MmCommand.GetUserPage(r.faultVa(), r.faultWrite(), faults));
                return this;
            case CLOSED:
            default:
                return finish(true);
        }
    }

    private Behavior<Command> onFaulted(Faulted f) {
        if (f.reply() instanceof PageReply.Denied) {
            segv++; // the process would get SIGSEGV; the workload notes it and goes on with the next instruction
            return reissue(pending + 1);
        }
        return reissue(pending);
    }

    private Behavior<Command> reissue(int from) {
        if (from >= batch.size()) {
            done += batch.size();
            return nextBatch();
        }
        plan.device().tell(new GruCommand.Execute(context, batch, from, results));
        return this;
    }

    /** One memory operation on the region, not waited for: its invalidation races the device batches. */
    private void churn() {
        long pages = plan.regionBytes() / 4096;
        long first = random.nextLong(pages);
        long count = Math.min(pages - first, 1 + random.nextLong(Math.min(pages, 64)));
        long start = base + first * 4096;
        long length = count * 4096;
        ActorRef<MmCommand> mm = plan.mm();
        switch (random.nextInt(3)) {
            case 0:
                mm.tell(new MmCommand.MadviseDontneed(start, length, hostOps));
                churnInFlight++;
                break;
            case 1:
                mm.tell(new MmCommand.Mprotect(start, length, Protection.READ, hostOps));
                mm.tell(new MmCommand.Mprotect(start, length, Protection.READ_WRITE, hostOps));
                churnInFlight += 2;
                break;
            default:
                mm.tell(new MmCommand.Munmap(start, length, hostOps));
                mm.tell(new MmCommand.Mmap(start, length, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                        hostOps));
                churnInFlight += 2;
                break;
        }
        churnOps++;
    }

    private Behavior<Command> onHostDone(HostDone h) {
        if (base == 0) {
            if (!h.result().ok()) {
                getContext().getLog().warn("{}: cannot map its region: {}", plan.name(), h.result());
                return finish(true);
            }
            base = ((MmResult.Done) h.result()).value();
            openContext();
            return this;
        }
        churnInFlight--;
        if (!h.result().ok()) {
            getContext().getLog().warn("{}: host memory operation failed: {}", plan.name(), h.result());
        }
        if (finished && churnInFlight == 0) {
            return report();
        }
        return this;
    }

    private Behavior<Command> finish(boolean closed) {
        finished = true;
        if (context >= 0) {
            plan.device().tell(new GruCommand.CloseContext(context));
        }
        this.closedFlag = closed;
        return churnInFlight == 0 ? report() : this;
    }

    private Behavior<Command> report() {
        replyTo.tell(new Report(plan.name(), done, hostFaults, segv, churnOps, checksum, closedFlag));
        return Behaviors.stopped();
    }
}
