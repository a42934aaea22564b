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
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.Range;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.SplittableRandom;

/**
 * A user process driving a device: it opens a context bound to its mm and issues seeded batches of loads, stores and
 * AMOs over its regions. An instruction the device cannot translate comes back; the process takes a normal host fault
 * ({@code get_user_pages} with the access it needs) and retries, or, when the host denies it (SIGSEGV), skips it.
 *
 * <p>Checked ({@link #create(ActorRef, ActorRef, long, String, List, GruSettings, long, long, BooleanSupplier,
 * CoherenceEvents, ActorRef)} with events), it keeps a {@link GoldenCopy} of its memory and compares what every
 * load and AMO returned with it, reporting a mismatch to the oracle as an I1 violation. Whoever discards the
 * process's memory behind its back (the scenario's stressor) tells it first ({@link HostChange}, answered at once)
 * and after ({@link HostChanged}).
 */
public final class GruProcess extends AbstractBehavior<GruProcess.Command> {

    public sealed interface Command {
    }

    /**
     * The host is about to discard {@code range} of this process's memory (munmap, MADV_DONTNEED): its words are
     * unknown from now on. The reply says so; only then may the discard start, so no read that saw it is checked
     * against the old contents.
     */
    public record HostChange(Range range, ActorRef<HostChangeSeen> replyTo) implements Command {
    }

    public record HostChangeSeen(Range range) {
    }

    /** The discard of {@code range} is over (the range is mapped again, zero-filled on its next fault). */
    public record HostChanged(Range range) implements Command {
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
     * @param checkedReads loads and AMOs whose result the golden copy knew and checked (0 when not checked)
     * @param staleReads   of those, the ones that returned something else (I1 violations)
     */
    public record Result(String name, long instructions, long hostFaults, long segvs, long loadSum, boolean gone,
                         long checkedReads, long staleReads) {
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
    private final long mmId;
    private final CoherenceEvents events;
    private final GoldenCopy golden;
    private final long agent;
    /** Discards that ended while a batch was at the device: that batch may have run before or after them. */
    private final List<Range> endedDuringBatch = new ArrayList<>();
    private boolean atDevice;
    private long checkedReads;
    private long staleReads;
    private long batches;
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
        return create(device, mm, mmId, name, regions, settings, seed, instructions, stop, null, reportTo);
    }

    /**
     * @param events where I1 violations go; non-null turns the golden-copy check on (it needs word contents: the
     *               host's content mode must be FULL)
     */
    public static Behavior<Command> create(ActorRef<GruCommand> device, ActorRef<MmCommand> mm, long mmId,
                                           String name, List<Range> regions, GruSettings settings, long seed,
                                           long instructions, BooleanSupplier stop, CoherenceEvents events,
                                           ActorRef<Result> reportTo) {
        return Behaviors.setup(ctx -> new GruProcess(ctx, device, mm, mmId, name, regions, settings, seed,
                instructions, stop, events, reportTo));
    }

    private GruProcess(ActorContext<Command> context, ActorRef<GruCommand> device, ActorRef<MmCommand> mm, long mmId,
                       String name, List<Range> regions, GruSettings settings, long seed, long instructions,
                       BooleanSupplier stop, CoherenceEvents events, ActorRef<Result> reportTo) {
        super(context);
        this.mmId = mmId;
        this.events = events;
        this.golden = events != null ? new GoldenCopy(regions) : null;
        this.agent = events != null ? AgentIds.next() : -1;
        if (events != null) {
            events.agentNamed(agent, name + " (gru user, mm " + mmId + ")");
        }
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
                .onMessage(HostChange.class, this::onHostChange)
                .onMessage(HostChanged.class, this::onHostChanged)
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
        batches++;
        batch = new Instructions(ops, vas, values, n, golden != null ? new long[n] : null);
        next = 0;
        send();
        return this;
    }

    private void send() {
        atDevice = true;
        device.tell(new GruCommand.Execute(context, batch, next, results));
    }

    private Behavior<Command> onExecuted(Executed e) {
        GruCommand.BatchResult r = e.result();
        atDevice = false;
        if (golden != null) {
            check(r);
        }
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

    // ---- the golden copy (I1) --------------------------------------------------------------------------------

    /** Replays the instructions the device ran, in order, against the golden copy. */
    private void check(GruCommand.BatchResult r) {
        if (r.status() != GruCommand.BatchResult.Status.GONE) {
            byte[] ops = batch.ops();
            long[] vas = batch.vas();
            long[] values = batch.values();
            long[] got = batch.results();
            for (int i = next; i < r.next(); i++) {
                long va = vas[i];
                if (ops[i] == Instructions.STORE) {
                    golden.wrote(va, values[i]);
                    continue;
                }
                if (golden.knows(va)) {
                    checkedReads++;
                    long expected = golden.expected(va);
                    if (got[i] != expected) {
                        stale(i, va, expected, got[i]);
                    }
                }
                if (ops[i] == Instructions.AMO) {
                    golden.wrote(va, got[i] + values[i]); // what the atomic add left in the word
                }
            }
        }
        for (Range ended : endedDuringBatch) {
            golden.discarded(ended);
        }
        endedDuringBatch.clear();
    }

    private void stale(int index, long va, long expected, long actual) {
        staleReads++;
        String what = batch.ops()[index] == Instructions.LOAD ? "load" : "AMO";
        String detail = name + " (mm " + mmId + ") " + what + " of 0x" + Long.toHexString(va) + " through device"
                + " context " + context + " (instruction " + index + " of batch " + batches + ") returned 0x"
                + Long.toHexString(actual) + ", but the last value it wrote there is 0x" + Long.toHexString(expected)
                + (expected == 0 ? " (or the page was discarded since, and reads zero)" : "")
                + ": the device read a frame the address no longer maps";
        if (staleReads <= 10) {
            getContext().getLog().warn("I1 violation: {}", detail);
        }
        events.violation(Invariant.I1, agent, detail);
    }

    private Behavior<Command> onHostChange(HostChange c) {
        if (golden != null) {
            golden.discarding(c.range());
        }
        c.replyTo().tell(new HostChangeSeen(c.range()));
        return this;
    }

    private Behavior<Command> onHostChanged(HostChanged c) {
        if (golden == null) {
            return this;
        }
        if (atDevice) {
            endedDuringBatch.add(c.range()); // closed once that batch is back
        } else {
            golden.discarded(c.range());
        }
        return this;
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
        reportTo.tell(new Result(name, executed, hostFaults, segvs, loadSum, gone, checkedReads, staleReads));
        return Behaviors.stopped();
    }
}
