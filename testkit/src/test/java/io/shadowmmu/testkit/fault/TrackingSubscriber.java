package io.shadowmmu.testkit.fault;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
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
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;

import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A secondary MMU that follows the subscriber contract and reports every translation to the oracle, reached through
 * whatever ref {@code link} makes of it (a {@link FaultyLink}, or itself). Duplicates are harmless to it: a batch is
 * in progress from its first Start to its first End.
 */
final class TrackingSubscriber extends AbstractBehavior<TrackingSubscriber.Command> {
    interface Command {
    }

    /** Fault in a translation of {@code va}; replies whether one is installed. */
    record Touch(long va, ActorRef<Boolean> replyTo) implements Command {
    }

    record Stats(int translations, long retries, long fences, long acks) {
    }

    record GetStats(ActorRef<Stats> replyTo) implements Command {
    }

    private record Notified(MmuNotification notification) implements Command {
    }

    private record Registered(MmCommand.Registered registered) implements Command {
    }

    private record Page(PageReply reply, long sequenceBefore, Touch touch) implements Command {
    }

    /** Only for the broken variant: the drop that should have happened before the ack. */
    private record DropLater(List<Range> ranges) implements Command {
    }

    private final ActorRef<MmCommand> mm;
    private final CoherenceEvents events;
    private final Duration deadline;
    private final boolean ackBeforeDrop;
    private final long agent = AgentIds.next();
    private final ActorRef<MmuNotification> notifications;
    private final ActorRef<MmCommand.Registered> registered;
    private final Map<Long, List<Range>> inProgress = new HashMap<>();
    private final Map<Long, PageReply.Granted> translations = new HashMap<>();
    private long subscription = -1;
    private AccessGrant grant;
    private long mmId;
    private long sequence = Long.MAX_VALUE - 5; // wraps during a run: compared with == only
    private long retries;
    private long fences;
    private long acks;

    static Behavior<Command> create(ActorRef<MmCommand> mm, CoherenceEvents events, Duration deadline,
                                    Function<ActorRef<MmuNotification>, ActorRef<MmuNotification>> link) {
        return Behaviors.setup(ctx -> new TrackingSubscriber(ctx, mm, events, deadline, link, false));
    }

    /** A broken subscriber that acknowledges a Start before dropping its translations (ACK_BEFORE_FLUSH). */
    static Behavior<Command> ackingBeforeDrop(ActorRef<MmCommand> mm, CoherenceEvents events, Duration deadline,
                                              Function<ActorRef<MmuNotification>, ActorRef<MmuNotification>> link) {
        return Behaviors.setup(ctx -> new TrackingSubscriber(ctx, mm, events, deadline, link, true));
    }

    private TrackingSubscriber(ActorContext<Command> ctx, ActorRef<MmCommand> mm, CoherenceEvents events,
                               Duration deadline,
                               Function<ActorRef<MmuNotification>, ActorRef<MmuNotification>> link,
                               boolean ackBeforeDrop) {
        super(ctx);
        this.ackBeforeDrop = ackBeforeDrop;
        this.mm = mm;
        this.events = events;
        this.deadline = deadline;
        this.notifications = link.apply(ctx.messageAdapter(MmuNotification.class, Notified::new));
        this.registered = ctx.messageAdapter(MmCommand.Registered.class, Registered::new);
        events.agentNamed(agent, "tracking subscriber");
        register();
    }

    private void register() {
        mm.tell(new MmCommand.Register(notifications, Interest.WHOLE_MM, agent, "tracker", deadline, registered));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Registered.class, this::onRegistered)
                .onMessage(Touch.class, this::onTouch)
                .onMessage(Page.class, this::onPage)
                .onMessage(Notified.class, n -> onNotified(n.notification()))
                .onMessage(DropLater.class, d -> {
                    drop(d.ranges());
                    return this;
                })
                .onMessage(GetStats.class, g -> {
                    g.replyTo().tell(new Stats(translations.size(), retries, fences, acks));
                    return this;
                })
                .build();
    }

    private Behavior<Command> onRegistered(Registered r) {
        subscription = r.registered().subscription();
        grant = r.registered().grant();
        mmId = r.registered().mm();
        for (MmCommand.InFlight f : r.registered().inFlight()) {
            inProgress.put(f.batch(), f.ranges()); // its End will come
        }
        return this;
    }

    private Behavior<Command> onTouch(Touch t) {
        if (translations.containsKey(t.va())) {
            t.replyTo().tell(true);
            return this;
        }
        long before = sequence; // sampled before asking (mmu_interval_read_begin)
        getContext().ask(PageReply.class, mm, Duration.ofSeconds(10),
                replyTo -> new MmCommand.GetUserPage(t.va(), false, replyTo),
                (reply, failure) -> new Page(reply, before, t));
        return this;
    }

    private Behavior<Command> onPage(Page p) {
        if (!(p.reply() instanceof PageReply.Granted)) {
            p.touch().replyTo().tell(false);
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        boolean covered = false;
        for (List<Range> ranges : inProgress.values()) {
            covered |= Range.anyContains(ranges, g.va());
        }
        if (subscription < 0 || sequence != p.sequenceBefore() || covered) {
            retries++; // an invalidation raced the fault (mmu_interval_read_retry): ask again
            getContext().getSelf().tell(p.touch());
            return this;
        }
        // Installing uses the grant like an access does: fenced while the fault was out (the Fenced notice may still
        // be on its way through the link), the host may already have freed the frame, so the answer is dropped.
        if (grant == null || !grant.enter()) {
            p.touch().replyTo().tell(false);
            return this;
        }
        try {
            translations.put(g.va(), g);
            events.translationInstalled(agent, 0, mmId, g.va(), g.pfn(), g.generation(), false);
        } finally {
            grant.exit();
        }
        p.touch().replyTo().tell(true);
        return this;
    }

    private Behavior<Command> onNotified(MmuNotification n) {
        if (n instanceof MmuNotification.InvalidateStart) {
            MmuNotification.InvalidateStart s = (MmuNotification.InvalidateStart) n;
            inProgress.putIfAbsent(s.batch(), s.ranges());
            if (ackBeforeDrop) {
                acks++;
                s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
                // Late enough that the host, acked, has freed the frames by then.
                getContext().scheduleOnce(Duration.ofMillis(5), getContext().getSelf(), new DropLater(s.ranges()));
                return this;
            }
            drop(s.ranges());
            acks++;
            s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
        } else if (n instanceof MmuNotification.InvalidateEnd) {
            if (inProgress.remove(((MmuNotification.InvalidateEnd) n).batch()) != null) {
                sequence++;
            }
        } else if (n instanceof MmuNotification.Release) {
            MmuNotification.Release r = (MmuNotification.Release) n;
            dropAll();
            r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
        } else if (n instanceof MmuNotification.ClearYoung) {
            MmuNotification.ClearYoung c = (MmuNotification.ClearYoung) n;
            c.replyTo().tell(new NotifierReply.YoungReport(c.subscription(), c.request(), false));
        } else if (n instanceof MmuNotification.TestYoung) {
            MmuNotification.TestYoung t = (MmuNotification.TestYoung) n;
            t.replyTo().tell(new NotifierReply.YoungReport(t.subscription(), t.request(), false));
        } else if (n instanceof MmuNotification.Fenced) {
            if (n.subscription() == subscription) {
                fences++;
                dropAll();
                inProgress.clear();
                sequence++;
                subscription = -1;
                grant = null;
                register();
            }
        }
        return this;
    }

    private void drop(List<Range> ranges) {
        for (Iterator<PageReply.Granted> it = translations.values().iterator(); it.hasNext(); ) {
            PageReply.Granted g = it.next();
            if (Range.anyContains(ranges, g.va())) {
                it.remove();
                events.translationRemoved(agent, 0, mmId, g.va(), g.pfn(), g.generation());
            }
        }
    }

    private void dropAll() {
        for (PageReply.Granted g : translations.values()) {
            events.translationRemoved(agent, 0, mmId, g.va(), g.pfn(), g.generation());
        }
        translations.clear();
    }
}
