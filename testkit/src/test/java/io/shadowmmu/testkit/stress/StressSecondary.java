package io.shadowmmu.testkit.stress;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PreRestart;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.scenario.secondary.TranslationCache;
import io.shadowmmu.testkit.fault.FaultCounters;
import io.shadowmmu.testkit.fault.FaultPlan;
import io.shadowmmu.testkit.fault.FaultyLink;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A secondary MMU built to be crashed: it reads guest-like memory in bursts through translations it faulted in,
 * follows the notifier contract, and hears the host through a {@link FaultyLink} that is its own child, so the link
 * dies with each incarnation and the host, watching it, stops waiting on the dead one at once. Each incarnation has
 * its own oracle agent: a crash revokes the old one's translations ({@code PreRestart}), and a late fence of the old
 * subscription cannot touch the new one's.
 */
final class StressSecondary extends AbstractBehavior<StressSecondary.Command> implements IntervalNotifier.Handler {
    sealed interface Command {
    }

    /** Read {@code accesses} random words of the region, in one access section (a vCPU slice). */
    record Burst(int accesses, ActorRef<Done> replyTo) implements Command {
    }

    record Done(String name, int accesses) {
    }

    private record Notified(MmuNotification notification) implements Command {
    }

    private record Registered(MmCommand.Registered registration) implements Command {
    }

    /** A get_user_pages answer, for the subscription and sequence current when it was asked. */
    private record Paged(long page, long subscription, long sampledSeq, PageReply reply) implements Command {
    }

    private enum Reregister implements Command {
        INSTANCE
    }

    /** What every incarnation of one secondary did, readable by the test. */
    static final class Totals {
        final AtomicLong accesses = new AtomicLong();
        final AtomicLong hits = new AtomicLong();
        final AtomicLong faults = new AtomicLong();
        final AtomicLong retries = new AtomicLong();
        final AtomicLong fences = new AtomicLong();
        final AtomicLong incarnations = new AtomicLong();
        final FaultCounters link = new FaultCounters();
    }

    private static final Duration FAULT_TIMEOUT = Duration.ofSeconds(30);
    private static final long PAGE = PhysicalMemory.PAGE_SIZE;

    private final ActorRef<MmCommand> mm;
    private final CoherenceEvents events;
    private final long base;
    private final int pages;
    private final Duration deadline;
    private final Duration refenceBackoff;
    private final Totals totals;
    private final long agent = AgentIds.next();
    private final String name;
    private final SplittableRandom random;
    private final ActorRef<Object> link;
    private final ActorRef<MmuNotification> endpoint;
    private final ActorRef<MmCommand.Registered> registrations;
    private final TranslationCache translations;
    private final IntervalNotifier<Void> notifier = new IntervalNotifier<>(0, null);
    private final Set<Long> faulting = new HashSet<>();
    private boolean released;

    /**
     * @param refenceBackoff how long a fenced incarnation waits before registering again
     */
    static Behavior<Command> create(ActorRef<MmCommand> mm, long mmId, PhysicalMemory memory, long base, int pages,
                                    String name, FaultPlan plan, Duration deadline, Duration refenceBackoff,
                                    Totals totals) {
        AtomicInteger incarnation = new AtomicInteger();
        return Behaviors.setup(ctx -> new StressSecondary(ctx, mm, mmId, memory, base, pages,
                name + "#" + incarnation.incrementAndGet(), plan, deadline, refenceBackoff, totals));
    }

    private StressSecondary(ActorContext<Command> ctx, ActorRef<MmCommand> mm, long mmId, PhysicalMemory memory,
                            long base, int pages, String name, FaultPlan plan, Duration deadline,
                            Duration refenceBackoff, Totals totals) {
        super(ctx);
        this.mm = mm;
        this.events = memory.events();
        this.base = base;
        this.pages = pages;
        this.deadline = deadline;
        this.refenceBackoff = refenceBackoff;
        this.totals = totals;
        this.name = name;
        long n = totals.incarnations.incrementAndGet();
        this.random = new SplittableRandom(plan.seed() * 31 + n);
        // Each incarnation's link draws its own faults from the plan's seed and the incarnation number.
        FaultPlan own = new FaultPlan(plan.seed() + n, plan.delayMin(), plan.delayMax(), plan.duplicate(),
                plan.reorder(), plan.drop(), plan.droppable(), plan.ackDelay());
        this.link = ctx.spawnAnonymous(FaultyLink.create(ctx.messageAdapter(MmuNotification.class, Notified::new),
                own, totals.link));
        this.endpoint = FaultyLink.notifications(link);
        this.registrations = ctx.messageAdapter(MmCommand.Registered.class, Registered::new);
        events.agentNamed(agent, name);
        this.translations = new TranslationCache(memory, agent, mmId, name);
        register();
    }

    private void register() {
        mm.tell(new MmCommand.Register(endpoint, Interest.WHOLE_MM, agent, name, deadline, registrations));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Burst.class, this::onBurst)
                .onMessage(Paged.class, this::onPaged)
                .onMessage(Notified.class, n -> {
                    notifier.dispatch(n.notification(), this);
                    return this;
                })
                .onMessage(Registered.class, this::onRegistered)
                .onMessageEquals(Reregister.INSTANCE, () -> {
                    register();
                    return this;
                })
                .onSignal(PreRestart.class, s -> onCrash())
                .build();
    }

    /** The incarnation is gone and its tables with it; the next one starts empty and registers afresh. */
    private Behavior<Command> onCrash() {
        translations.forget();
        events.agentRevoked(agent, name + " crashed");
        getContext().stop(link); // the host watches it: the dead incarnation's subscription goes with it
        return this;
    }

    private Behavior<Command> onRegistered(Registered r) {
        notifier.registered(r.registration());
        return this;
    }

    private Behavior<Command> onBurst(Burst b) {
        int done = 0;
        AccessGrant grant = notifier.grant();
        if (grant != null && !released) {
            if (!grant.enter()) {
                translations.dropAll(); // revoked: the Fenced message is on its way
            } else {
                try {
                    for (; done < b.accesses(); done++) {
                        access(base + random.nextInt(pages) * PAGE + (random.nextInt(512) << 3));
                    }
                } finally {
                    grant.exit();
                }
            }
        }
        totals.accesses.addAndGet(done);
        b.replyTo().tell(new Done(name, done));
        return this;
    }

    /** One read: through the cached translation if there is one, else a fault to the host. */
    private void access(long va) {
        long page = va & ~(PAGE - 1);
        if (translations.read(va)) {
            totals.hits.incrementAndGet();
            return;
        }
        if (notifier.invalidating(page) || !faulting.add(page)) {
            return; // an invalidation of it is running, or its fault is on the way
        }
        totals.faults.incrementAndGet();
        long sampled = notifier.readBegin();
        long asked = notifier.subscription();
        getContext().ask(PageReply.class, mm, FAULT_TIMEOUT, replyTo -> new MmCommand.GetUserPage(page, false,
                replyTo), (reply, failure) -> new Paged(page, asked, sampled, reply));
    }

    private Behavior<Command> onPaged(Paged p) {
        faulting.remove(p.page());
        AccessGrant grant = notifier.grant();
        if (!(p.reply() instanceof PageReply.Granted) || grant == null || p.subscription() != notifier.subscription()) {
            return this; // denied, or asked by an earlier registration (or incarnation)
        }
        // An invalidation ran or is running since we asked.
        if (notifier.readRetry(p.sampledSeq(), p.page())) {
            totals.retries.incrementAndGet();
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        // Installing uses the grant like an access does: fenced while the fault was out, the host may already have
        // freed the frame (it waits only for revoked grants to be left), so the answer must not be installed.
        if (!grant.enter()) {
            totals.retries.incrementAndGet();
            return this;
        }
        try {
            translations.install(p.page(), g.pfn(), g.generation());
        } finally {
            grant.exit();
        }
        return this;
    }

    @Override
    public void invalidateStart(MmuNotification.InvalidateStart s) {
        translations.drop(s.ranges());
        s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
    }

    @Override
    public void release(MmuNotification.Release r) {
        released = true;
        translations.dropAll();
        r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
    }

    @Override
    public boolean young(Range range, boolean clear) {
        return false;
    }

    @Override
    public void fenced(MmuNotification.Fenced f) {
        if (f.subscription() < 0) {
            released = true; // the mm exited before we registered
            return;
        }
        totals.fences.incrementAndGet();
        translations.dropAll();
        getContext().scheduleOnce(refenceBackoff, getContext().getSelf(), Reregister.INSTANCE);
    }
}
