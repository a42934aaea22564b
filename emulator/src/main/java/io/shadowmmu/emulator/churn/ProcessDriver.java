package io.shadowmmu.emulator.churn;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.MmStats;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One host process of the churn: performs one system call or memory access at a time, chosen at random (seeded),
 * and keeps a golden copy of what it wrote to its private anonymous memory to check every read (I1) where nothing
 * legitimately discarded the contents.
 */
final class ProcessDriver extends AbstractBehavior<ProcessDriver.Command> {

    interface Command {
    }

    /** Stop issuing operations: report stats, exit the process, tell the coordinator. */
    enum Finish implements Command {
        INSTANCE
    }

    private record Replied(String op, Object reply, Runnable then) implements Command {
    }

    /** What a driver hands its coordinator. */
    record Child(ActorRef<MmCommand> mm, long mmId, List<Region> regions, Map<Long, Long> golden, long seed) {
    }

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final ActorRef<ChurnCoordinator.Command> coordinator;
    private final ActorRef<HostCommand> hostActor;
    private final ActorRef<MmCommand> mm;
    private final long mmId;
    private final MemFile file;
    private final ChurnSettings settings;
    private final CoherenceEvents events;
    private final List<ActorRef<SecondaryMmu.Command>> secondaries;
    private final AtomicLong opsLeft;
    private final java.util.concurrent.atomic.AtomicInteger live;
    private final SplittableRandom random;
    private final List<Region> regions;
    private final Map<Long, Long> golden;
    private final long agent;
    private boolean finishing;
    private boolean exited;

    static Behavior<Command> create(ActorRef<ChurnCoordinator.Command> coordinator, ActorRef<HostCommand> hostActor,
                                    Child me, MemFile file, ChurnSettings settings, CoherenceEvents events,
                                    List<ActorRef<SecondaryMmu.Command>> secondaries, AtomicLong opsLeft,
                                    java.util.concurrent.atomic.AtomicInteger live, long agent) {
        return Behaviors.setup(ctx -> {
            ProcessDriver d = new ProcessDriver(ctx, coordinator, hostActor, me, file, settings, events, secondaries,
                    opsLeft, live, agent);
            d.next();
            return d;
        });
    }

    private ProcessDriver(ActorContext<Command> context, ActorRef<ChurnCoordinator.Command> coordinator,
                          ActorRef<HostCommand> hostActor, Child me, MemFile file, ChurnSettings settings,
                          CoherenceEvents events, List<ActorRef<SecondaryMmu.Command>> secondaries,
                          AtomicLong opsLeft, java.util.concurrent.atomic.AtomicInteger live, long agent) {
        super(context);
        this.coordinator = coordinator;
        this.hostActor = hostActor;
        this.mm = me.mm();
        this.mmId = me.mmId();
        this.file = file;
        this.settings = settings;
        this.events = events;
        this.secondaries = secondaries;
        this.opsLeft = opsLeft;
        this.live = live;
        this.random = new SplittableRandom(me.seed());
        this.regions = new ArrayList<>(me.regions());
        this.golden = new HashMap<>(me.golden());
        this.agent = agent;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Replied.class, r -> {
                    r.then().run();
                    return exited ? Behaviors.stopped() : this;
                })
                .onMessageEquals(Finish.INSTANCE, () -> {
                    finishing = true;
                    return this;
                })
                .build();
    }

    /** Issues the next operation, or winds down when the budget is spent or the coordinator asked. */
    private void next() {
        if (finishing || opsLeft.getAndDecrement() <= 0) {
            exit();
            return;
        }
        int op = random.nextInt(100);
        if (regions.isEmpty() || (op < 8 && regions.size() < settings.maxRegions())) {
            mmap();
        } else if (op < 45) {
            access();
        } else if (op < 62) {
            touchThroughSecondaries();
        } else if (op < 70) {
            unmap();
        } else if (op < 78) {
            dontneed();
        } else if (op < 86) {
            mprotect();
        } else if (op < 90) {
            fork();
        } else if (op < 93) {
            truncate();
        } else {
            cowWrite();
        }
    }

    private void mmap() {
        int k = random.nextInt(100);
        VmaKind kind = k < 50 ? VmaKind.ANON_PRIVATE : k < 70 ? VmaKind.ANON_SHARED
                : k < 85 ? VmaKind.FILE_SHARED : VmaKind.FILE_PRIVATE;
        long pages = kind.fileBacked() && kind != VmaKind.ANON_SHARED ? settings.filePages()
                : 1 + random.nextInt(settings.maxRegionPages());
        MemFile f = kind == VmaKind.FILE_SHARED || kind == VmaKind.FILE_PRIVATE ? file : null;
        call("mmap", r -> new MmCommand.Mmap(0, pages * 4096, Protection.READ_WRITE, kind, f, 0, r), reply -> {
            if (reply.ok()) {
                regions.add(new Region(((MmResult.Done) reply).value(), pages, kind));
            }
        });
    }

    private long randomAddress(Region r) {
        return r.start() + random.nextLong(r.pages()) * 4096 + random.nextInt(512) * 8L;
    }

    private void access() {
        Region r = regions.get(random.nextInt(regions.size()));
        long va = randomAddress(r);
        if (random.nextBoolean()) {
            write(r, va);
        } else {
            call("read", reply -> new MmCommand.Access(va, false, 0, reply), reply -> checkRead(r, va, reply));
        }
    }

    private void cowWrite() {
        for (Region r : regions) {
            if (r.kind() == VmaKind.ANON_PRIVATE) {
                write(r, randomAddress(r));
                return;
            }
        }
        access();
    }

    private void write(Region r, long va) {
        long value = random.nextLong();
        call("write", reply -> new MmCommand.Access(va, true, value, reply), reply -> {
            if (reply.ok() && r.kind() == VmaKind.ANON_PRIVATE) {
                golden.put(va, value);
            }
        });
    }

    private void checkRead(Region r, long va, MmResult reply) {
        Long expected = golden.get(va);
        if (!reply.ok() || expected == null || r.kind() != VmaKind.ANON_PRIVATE) {
            return;
        }
        long actual = ((MmResult.Done) reply).value();
        if (actual != expected) {
            events.violation(Invariant.I1, agent, "process mm " + mmId + " read 0x" + Long.toHexString(va)
                    + ": expected " + expected + ", found " + actual);
        }
    }

    private void touchThroughSecondaries() {
        Region r = regions.get(random.nextInt(regions.size()));
        for (int i = 0; i < 4; i++) {
            long va = randomAddress(r);
            for (ActorRef<SecondaryMmu.Command> s : secondaries) {
                s.tell(new SecondaryMmu.Touch(va));
            }
        }
        getContext().getSelf().tell(new Replied("touch", null, this::next));
    }

    private void unmap() {
        Region r = regions.remove(random.nextInt(regions.size()));
        forget(r.start(), r.end());
        call("munmap", reply -> new MmCommand.Munmap(r.start(), r.pages() * 4096, reply), reply -> {
        });
    }

    private void dontneed() {
        Region r = regions.get(random.nextInt(regions.size()));
        long first = random.nextLong(r.pages());
        long pages = 1 + random.nextLong(r.pages() - first);
        long start = r.start() + first * 4096;
        forget(start, start + pages * 4096);
        call("madvise", reply -> new MmCommand.MadviseDontneed(start, pages * 4096, reply), reply -> {
        });
    }

    private void mprotect() {
        Region r = regions.get(random.nextInt(regions.size()));
        Protection p = random.nextInt(3) == 0 ? Protection.READ : Protection.READ_WRITE;
        call("mprotect", reply -> new MmCommand.Mprotect(r.start(), r.pages() * 4096, p, reply), reply -> {
        });
    }

    private void truncate() {
        long size = random.nextInt(settings.filePages() + 1) * 4096L;
        ask(MmResult.class, hostActor, reply -> new HostCommand.Truncate(file, size, reply), shrunk ->
                ask(MmResult.class, hostActor, reply -> new HostCommand.Truncate(file, settings.filePages() * 4096L,
                        reply), restored -> next()));
    }

    private void fork() {
        long childSeed = random.nextLong();
        if (live.incrementAndGet() > settings.maxProcesses()) {
            live.decrementAndGet();
            access();
            return;
        }
        ask(MmCommand.ForkResult.class, mm, reply -> new MmCommand.Fork(null, reply), result -> {
            if (result.status().ok()) {
                coordinator.tell(new ChurnCoordinator.Forked(new Child(result.child(), result.childMm(),
                        List.copyOf(regions), Map.copyOf(golden), childSeed)));
            } else {
                live.decrementAndGet();
            }
            next();
        });
    }

    private void exit() {
        ask(MmStats.class, mm, MmCommand.GetStats::new, stats ->
                ask(MmResult.class, mm, MmCommand.Exit::new, done -> {
                    coordinator.tell(new ChurnCoordinator.Exited(mmId, stats));
                    exited = true;
                }));
    }

    private void forget(long start, long end) {
        golden.keySet().removeIf(va -> va >= start && va < end);
    }

    private void call(String op, java.util.function.Function<ActorRef<MmResult>, MmCommand> request,
                      java.util.function.Consumer<MmResult> onReply) {
        ask(MmResult.class, mm, request, reply -> {
            if (!reply.ok() && ((MmResult.Failed) reply).errno() == Errno.ESRCH) {
                finishing = true;
            }
            onReply.accept(reply);
            next();
        });
    }

    private <Q, R> void ask(Class<R> type, ActorRef<Q> target, java.util.function.Function<ActorRef<R>, Q> request,
                            java.util.function.Consumer<R> onReply) {
        getContext().ask(type, target, TIMEOUT, request::apply, (reply, failure) -> {
            if (failure != null) {
                throw new IllegalStateException("no reply from " + target + " within " + TIMEOUT, failure);
            }
            return new Replied("reply", reply, () -> onReply.accept(reply));
        });
    }
}
