package io.shadowmmu.hostmm.pressure;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Kernel same-page merging ({@code ksmd}): hashes exclusive anonymous pages a batch at a time; when two pages hash
 * alike, the first is write-protected and becomes the stable KSM page, the second is write-protected too, compared
 * byte for byte by its mm and, if still identical, replaced by the KSM page (each step a CLEAR invalidation). A write
 * to a KSM page breaks the sharing through copy-on-write.
 */
public final class KsmScanner extends AbstractBehavior<KsmScanner.Command> {

    public interface Command {
    }

    private enum Tick implements Command {
        INSTANCE
    }

    /** A page as seen by the scanner. */
    private record Page(int pfn, int generation, long mm, long va) {
    }

    private record Step(Page ksm, Page dup, int stage, MmCommand.PressureDone result) implements Command {
    }

    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);

    private final HostContext host;
    private final PhysicalMemory memory;
    private final PressureCounters counters;
    /** Checksum to a candidate seen in an earlier pass (the "unstable tree") or a stable KSM page. */
    private final Map<Long, Page> unstable = new HashMap<>();
    private final Map<Long, Page> stable = new HashMap<>();
    private int hand;
    private boolean merging;
    private final Pausing pausing = new Pausing("ksm");

    public static Behavior<Command> create(HostContext host, PressureCounters counters) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, host.settings().pressure().ksmInterval());
            return new KsmScanner(ctx, host, counters);
        }));
    }

    private KsmScanner(ActorContext<Command> context, HostContext host, PressureCounters counters) {
        super(context);
        this.host = host;
        this.memory = host.memory();
        this.counters = counters;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessage(Step.class, s -> {
                    onStep(s);
                    pausing.settled(!merging);
                    return this;
                })
                .onMessage(AuditPause.class, m -> {
                    pausing.on(m, !merging);
                    return this;
                })
                .build();
    }

    private Behavior<Command> onTick() {
        if (merging || pausing.paused()) {
            return this; // one merge at a time keeps the stable tree simple
        }
        int frames = memory.totalFrames();
        for (int i = 0; i < host.settings().pressure().ksmPagesPerScan() && !merging; i++) {
            int pfn = hand;
            hand = (hand + 1) % frames;
            Page page = candidate(pfn);
            if (page == null) {
                continue;
            }
            counters.ksmScanned.incrementAndGet();
            long sum = checksum(pfn);
            Page ksm = stable.get(sum);
            if (ksm != null && alive(ksm, true)) {
                merging = true;
                writeProtect(ksm, page, 2, page, false);
                continue;
            }
            Page seen = unstable.get(sum);
            if (seen != null && seen.pfn() != pfn && alive(seen, false) && checksum(seen.pfn()) == sum) {
                unstable.remove(sum);
                merging = true;
                writeProtect(seen, page, 1, seen, true);
            } else {
                unstable.put(sum, page);
            }
        }
        return this;
    }

    /** Stage 1: protect the future KSM page; stage 2: protect the duplicate; stage 3: merge. */
    private void writeProtect(Page ksm, Page dup, int stage, Page target, boolean makeKsm) {
        ActorRef<MmCommand> mm = host.processes().get(target.mm());
        if (mm == null) {
            merging = false;
            return;
        }
        getContext().ask(MmCommand.PressureDone.class, mm, ASK_TIMEOUT,
                replyTo -> new MmCommand.KsmWriteProtect(target.va(), target.pfn(), target.generation(), makeKsm,
                        replyTo),
                (result, failure) -> new Step(ksm, dup, stage, result));
    }

    private void onStep(Step s) {
        boolean ok = s.result() != null && s.result().done();
        if (!ok) {
            merging = false;
            return;
        }
        if (s.stage() == 1) {
            stable.put(checksum(s.ksm().pfn()), s.ksm());
            writeProtect(s.ksm(), s.dup(), 2, s.dup(), false);
        } else if (s.stage() == 2) {
            ActorRef<MmCommand> mm = host.processes().get(s.dup().mm());
            if (mm == null) {
                merging = false;
                return;
            }
            Page ksm = s.ksm();
            Page dup = s.dup();
            getContext().ask(MmCommand.PressureDone.class, mm, ASK_TIMEOUT,
                    replyTo -> new MmCommand.KsmMerge(dup.va(), dup.pfn(), dup.generation(), ksm.pfn(),
                            ksm.generation(), replyTo),
                    (result, failure) -> new Step(ksm, dup, 3, result));
        } else {
            counters.ksmMerged.incrementAndGet();
            merging = false;
        }
    }

    private Page candidate(int pfn) {
        if (memory.refcount(pfn) != 1 || !memory.hasFlag(pfn, PhysicalMemory.FLAG_ANON)
                || memory.hasFlag(pfn, PhysicalMemory.FLAG_KSM)) {
            return null;
        }
        long[] mappings = host.rmap().mappings(pfn);
        if (mappings.length != 2) {
            return null;
        }
        return new Page(pfn, memory.generation(pfn), mappings[0], mappings[1]);
    }

    private boolean alive(Page p, boolean ksm) {
        return memory.refcount(p.pfn()) > 0 && memory.generation(p.pfn()) == p.generation()
                && memory.hasFlag(p.pfn(), PhysicalMemory.FLAG_KSM) == ksm;
    }

    private long checksum(int pfn) {
        long[] words = memory.words(pfn);
        return words != null ? Arrays.hashCode(words) : memory.read(pfn, 0);
    }
}
