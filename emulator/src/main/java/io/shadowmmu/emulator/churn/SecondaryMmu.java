package io.shadowmmu.emulator.churn;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.scenario.secondary.TranslationCache;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A minimal secondary MMU: it caches translations it faulted through {@code get_user_pages}, reads memory through
 * them, and follows the notifier contract exactly (sequence check before install, in-progress ranges, access
 * sections under its grant, re-registration after a fence). With a zero delay it is an atomic subscriber (acks in
 * the handler); otherwise a sleeping one that keeps its translations until it acks, after the delay.
 */
public final class SecondaryMmu extends AbstractBehavior<SecondaryMmu.Command> {

    public sealed interface Command {
    }

    /** Read the word at {@code va} through a cached translation, faulting it in first if needed. */
    public record Touch(long va) implements Command {
    }

    public record GetStats(ActorRef<Stats> replyTo) implements Command {
    }

    public record Stats(String name, long hits, long faults, long retries, long invalidations, long fences,
                        long registrations) {
    }

    private record Notified(MmuNotification notification) implements Command {
    }

    private record Registered(MmCommand.Registered registration) implements Command {
    }

    private record Paged(long page, long sampledSeq, PageReply reply) implements Command {
    }

    private record AckLater(NotifierReply reply, ActorRef<NotifierReply> to, List<Range> drop, boolean all)
            implements Command {
    }

    private enum Reregister implements Command {
        INSTANCE
    }

    private static final Duration FAULT_TIMEOUT = Duration.ofSeconds(30);

    private final ActorRef<MmCommand> mm;
    private final String name;
    private final Duration ackDelay;
    private final ActorRef<Stats> reportTo;
    private final Variant variant;
    private final long agent = AgentIds.next();
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registrations;
    private final TranslationCache translations;
    private final List<Range> inProgress = new ArrayList<>();
    private final Set<Long> faulting = new HashSet<>();
    private long sequence;
    private long subscription = -1;
    private AccessGrant grant;
    private long hits;
    private long faults;
    private long retries;
    private long invalidations;
    private long fences;
    private long registrationCount;

    /**
     * @param ackDelay zero for an atomic subscriber, else how long it sleeps before acknowledging
     * @param reportTo receives this subscriber's stats when it stops (its mm released it or is gone)
     */
    public static Behavior<Command> create(ActorRef<MmCommand> mm, long mmId, PhysicalMemory memory, String name,
                                           Duration ackDelay, ActorRef<Stats> reportTo, Variant variant) {
        return Behaviors.setup(ctx -> new SecondaryMmu(ctx, mm, mmId, memory, name, ackDelay, reportTo, variant));
    }

    private SecondaryMmu(ActorContext<Command> context, ActorRef<MmCommand> mm, long mmId, PhysicalMemory memory,
                         String name, Duration ackDelay, ActorRef<Stats> reportTo, Variant variant) {
        super(context);
        this.reportTo = reportTo;
        this.variant = variant;
        context.watch(mm);
        this.mm = mm;
        this.name = name;
        this.ackDelay = ackDelay;
        this.notifications = context.messageAdapter(MmuNotification.class, Notified::new);
        this.registrations = context.messageAdapter(MmCommand.Registered.class, Registered::new);
        memory.events().agentNamed(agent, name);
        this.translations = new TranslationCache(memory, agent, mmId, name);
        register();
    }

    private void register() {
        mm.tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, name, null, registrations));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Touch.class, this::onTouch)
                .onMessage(Paged.class, this::onPaged)
                .onMessage(Notified.class, n -> onNotification(n.notification()))
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(AckLater.class, this::onAckLater)
                .onMessageEquals(Reregister.INSTANCE, () -> {
                    register();
                    return this;
                })
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(stats());
                    return this;
                })
                .onSignal(akka.actor.typed.Terminated.class, t -> finish())
                .build();
    }

    private Stats stats() {
        return new Stats(name, hits, faults, retries, invalidations, fences, registrationCount);
    }

    /** The mm released us or is gone: nothing left to translate. */
    private Behavior<Command> finish() {
        translations.dropAll();
        reportTo.tell(stats());
        return Behaviors.stopped();
    }

    private Behavior<Command> onRegistered(Registered r) {
        MmCommand.Registered reg = r.registration();
        subscription = reg.subscription();
        grant = reg.grant();
        registrationCount++;
        for (MmCommand.InFlight f : reg.inFlight()) {
            inProgress.addAll(f.ranges()); // its end will come like any other
        }
        return this;
    }

    private Behavior<Command> onTouch(Touch t) {
        if (grant == null) {
            return this;
        }
        long page = t.va() & ~(PhysicalMemory.PAGE_SIZE - 1);
        if (translations.holds(page)) {
            if (!grant.enter()) {
                translations.dropAll(); // revoked: the Fenced message is on its way
                return this;
            }
            try {
                translations.read(t.va());
                hits++;
            } finally {
                grant.exit();
            }
            return this;
        }
        if (Range.anyContains(inProgress, page) || !faulting.add(page)) {
            return this; // an invalidation of it is running, or a fault is already on its way
        }
        faults++;
        long sampled = sequence; // mmu_interval_read_begin: before asking the host
        getContext().ask(PageReply.class, mm, FAULT_TIMEOUT, replyTo -> new MmCommand.GetUserPage(page, false, replyTo),
                (reply, failure) -> new Paged(page, sampled, reply));
        return this;
    }

    private Behavior<Command> onPaged(Paged p) {
        faulting.remove(p.page());
        if (!(p.reply() instanceof PageReply.Granted) || grant == null) {
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        // mmu_interval_read_retry: an invalidation ran or is running since we asked; the answer may be stale.
        boolean stale = p.sampledSeq() != sequence || Range.anyContains(inProgress, p.page());
        if (stale && variant != Variant.NO_FAULT_RETRY) {
            retries++;
            return this;
        }
        translations.install(p.page(), g.pfn(), g.generation());
        return this;
    }

    private Behavior<Command> onNotification(MmuNotification n) {
        if (n.subscription() != subscription && !(n instanceof MmuNotification.Fenced)) {
            return this; // for an old registration
        }
        if (n instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) n;
            invalidations++;
            inProgress.addAll(s.ranges());
            acknowledge(NotifierReply.Ack.clean(s.subscription(), s.batch()), s.replyTo(), s.ranges(), false);
        } else if (n instanceof MmuNotification.InvalidateEnd) {
            MmuNotification.InvalidateEnd e = (MmuNotification.InvalidateEnd) n;
            sequence++;
            for (Range r : e.ranges()) {
                inProgress.remove(r);
            }
        } else if (n instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) n;
            if (ackDelay.isZero()) {
                translations.dropAll();
                r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
                return finish();
            }
            acknowledge(NotifierReply.Ack.clean(r.subscription(), r.batch()), r.replyTo(), List.of(), true);
        } else if (n instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung q = (MmuNotification.ClearYoung) n;
            boolean young = translations.holdsAny(q.range());
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), young));
        } else if (n instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung q = (MmuNotification.TestYoung) n;
            boolean young = translations.holdsAny(q.range());
            q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), young));
        } else if (n instanceof MmuNotification.Fenced) {
            if (((MmuNotification.Fenced) n).subscription() < 0) {
                return finish(); // the mm exited before we could register
            }
            onFenced((MmuNotification.Fenced) n);
        }
        return this;
    }

    private void acknowledge(NotifierReply ack, ActorRef<NotifierReply> to, List<Range> drop, boolean all) {
        if (variant == Variant.ACK_BEFORE_FLUSH && !all) {
            // Broken on purpose: the host hears "done" while the translations are still in use.
            to.tell(ack);
            getContext().scheduleOnce(ackDelay.isZero() ? Duration.ofMillis(1) : ackDelay, getContext().getSelf(),
                    new AckLater(new NotifierReply.Nack(-1, -1), getContext().getSystem().ignoreRef(), drop, false));
            return;
        }
        if (ackDelay.isZero()) {
            drop(drop, all);
            to.tell(ack);
        } else {
            // A sleeping subscriber: its translations stay until the slow work is done, then it acks.
            getContext().scheduleOnce(ackDelay, getContext().getSelf(), new AckLater(ack, to, drop, all));
        }
    }

    private Behavior<Command> onAckLater(AckLater a) {
        drop(a.drop(), a.all());
        a.to().tell(a.reply());
        if (a.all()) {
            return finish(); // released: the mm is going away
        }
        return this;
    }

    private void onFenced(MmuNotification.Fenced f) {
        if (f.subscription() != subscription) {
            return;
        }
        fences++;
        translations.dropAll();
        inProgress.clear();
        sequence++; // anything sampled before the fence is stale
        subscription = -1;
        grant = null;
        // Recovery takes longer each time, as a partition that keeps missing its deadline would.
        getContext().scheduleOnce(Duration.ofMillis(Math.min(2_000, 50 * fences)), getContext().getSelf(),
                Reregister.INSTANCE);
    }

    private void drop(List<Range> ranges, boolean all) {
        if (all) {
            translations.dropAll();
        } else {
            translations.drop(ranges);
        }
    }
}
