package io.shadowmmu.gru.workload;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.Instructions;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.SplittableRandom;

/**
 * A user process driving a device: it opens a context bound to its mm and issues seeded batches of loads, stores and
 * AMOs over its regions. An instruction the device cannot translate comes back; the process takes a normal host fault
 * ({@code get_user_pages} with the access it needs) and retries, or, when the host denies it (SIGSEGV), skips it.
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

    /**
     * What the process did.
     *
     * @param instructions instructions executed or skipped
     * @param hostFaults   faults it took on the host after the device failed an instruction
     * @param segvs        instructions the host denied (skipped)
     * @param gone         the context vanished (the mm exited) before the workload finished
     */
    public record Result(String name, long instructions, long hostFaults, long segvs, long loadSum, boolean gone) {
    }

    /** A host fault answered yes this many times in a row for one instruction without it getting through. */
    private static final int MAX_RETRIES = 1000;

    private final ActorRef<GruCommand> device;
    private final ActorRef<MmCommand> mm;
    private final String name;
    private final List<Range> regions;
    private final GruSettings settings;
    private final SplittableRandom random;
    private final ActorRef<Result> reportTo;
    private final ActorRef<GruCommand.BatchResult> results;
    private final ActorRef<PageReply> pages;
    private final BooleanSupplier stop;
    private long remaining;
    private long executed;
    private long hostFaults;
    private long segvs;
    private long loadSum;
    private int context = -1;
    private Instructions batch;
    private int next;
    private int retries;

    public static Behavior<Command> create(ActorRef<GruCommand> device, ActorRef<MmCommand> mm, long mmId,
                                           String name, List<Range> regions, GruSettings settings, long seed,
                                           long instructions, ActorRef<Result> reportTo) {
        return create(device, mm, mmId, name, regions, settings, seed, instructions, () -> false, reportTo);
    }

    /**
     * @param stop asked before each batch: when it says true the process ends early (a run bounded by time rather
     *             than by instructions); it must not block
     */
    public static Behavior<Command> create(ActorRef<GruCommand> device, ActorRef<MmCommand> mm, long mmId,
                                           String name, List<Range> regions, GruSettings settings, long seed,
                                           long instructions, BooleanSupplier stop, ActorRef<Result> reportTo) {
        return Behaviors.setup(ctx -> new GruProcess(ctx, device, mm, mmId, name, regions, settings, seed,
                instructions, stop, reportTo));
    }

    private GruProcess(ActorContext<Command> context, ActorRef<GruCommand> device, ActorRef<MmCommand> mm, long mmId,
                       String name, List<Range> regions, GruSettings settings, long seed, long instructions,
                       BooleanSupplier stop, ActorRef<Result> reportTo) {
        super(context);
        if (regions.isEmpty()) {
            throw new IllegalArgumentException("process " + name + " has no region to access");
        }
        this.device = device;
        this.mm = mm;
        this.name = name;
        this.regions = List.copyOf(regions);
        this.settings = settings;
        this.random = new SplittableRandom(seed);
        this.reportTo = reportTo;
        this.remaining = instructions;
        this.stop = stop;
        this.results = context.messageAdapter(GruCommand.BatchResult.class, Executed::new);
        this.pages = context.messageAdapter(PageReply.class, Faulted::new);
        device.tell(new GruCommand.OpenContext(mm, mmId,
                context.messageAdapter(GruCommand.ContextOpened.class, Opened::new)));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Opened.class, this::onOpened)
                .onMessage(Executed.class, this::onExecuted)
                .onMessage(Faulted.class, this::onFaulted)
                .build();
    }

    private Behavior<Command> onOpened(Opened o) {
        if (o.opened().context() < 0) {
            return finish(true);
        }
        context = o.opened().context();
        return nextBatch();
    }

    private Behavior<Command> nextBatch() {
        if (remaining <= 0 || stop.getAsBoolean()) {
            device.tell(new GruCommand.CloseContext(context));
            return finish(false);
        }
        int n = (int) Math.min(settings.batch(), remaining);
        byte[] ops = new byte[n];
        long[] vas = new long[n];
        long[] values = new long[n];
        for (int i = 0; i < n; i++) {
            int roll = random.nextInt(100);
            ops[i] = roll < settings.loadPercent() ? Instructions.LOAD
                    : roll < settings.loadPercent() + settings.storePercent() ? Instructions.STORE : Instructions.AMO;
            Range r = regions.get(random.nextInt(regions.size()));
            vas[i] = r.start() + (random.nextLong(r.length() >>> 3) << 3);
            values[i] = random.nextLong(1, 1 << 20);
        }
        remaining -= n;
        batch = new Instructions(ops, vas, values, n);
        next = 0;
        send();
        return this;
    }

    private void send() {
        device.tell(new GruCommand.Execute(context, batch, next, results));
    }

    private Behavior<Command> onExecuted(Executed e) {
        GruCommand.BatchResult r = e.result();
        executed += r.next() - next;
        loadSum += r.loadSum();
        if (r.next() > next) {
            retries = 0;
        }
        next = r.next();
        switch (r.status()) {
            case DONE:
                return nextBatch();
            case FAULT:
                hostFaults++;
                if (++retries > MAX_RETRIES) {
                    return skip();
                }
                mm.tell(new MmCommand.GetUserPage(r.faultVa(), r.faultWrite(), pages));
                return this;
            default:
                return finish(true);
        }
    }

    private Behavior<Command> onFaulted(Faulted f) {
        if (f.reply() instanceof PageReply.Granted) {
            send(); // the host made it present: the device retries the instruction
            return this;
        }
        PageReply.Denied d = (PageReply.Denied) f.reply();
        if (d.errno() == io.shadowmmu.hostmm.mm.Errno.ESRCH) {
            return finish(true);
        }
        return skip();
    }

    /** SIGSEGV for this instruction: it is not executed, the workload goes on with the next. */
    private Behavior<Command> skip() {
        segvs++;
        executed++;
        retries = 0;
        next++;
        if (next >= batch.count()) {
            return nextBatch();
        }
        send();
        return this;
    }

    private Behavior<Command> finish(boolean gone) {
        reportTo.tell(new Result(name, executed, hostFaults, segvs, loadSum, gone));
        return Behaviors.stopped();
    }
}
