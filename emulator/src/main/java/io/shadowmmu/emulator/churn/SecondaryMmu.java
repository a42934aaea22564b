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
import io.shadowmmu.hostmm.notifier.IntervalNotifier;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.secondary.TranslationCache;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A minimal secondary MMU: it caches translations it faulted through {@code get_user_pages}, reads memory through
 * them, and follows the notifier contract exactly (sequence check before install, in-progress ranges, access
 * sections under its grant, re-registration after a fence). With a zero delay it is an atomic subscriber (acks in
 * the handler); otherwise a sleeping one that keeps its translations until it acks, after the delay.
 */
public final class SecondaryMmu extends AbstractBehavior<SecondaryMmu.Command>
        implements IntervalNotifier.Handler {

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
    /** It parks nothing: a touch of a page under invalidation is dropped, as a device would retry it later. */
    private final IntervalNotifier<Void> notifier = new IntervalNotifier<>(0, null);
    private final Set<Long> faulting = new HashSet<>();
    private long hits;
    private long faults;
    private long retries;
    private long invalidations;
    private long fences;
    private long registrationCount;
    /** Set by a handler that ended this subscriber's life during the message being dispatched. */
    private boolean released;

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
                .onMessage(Notified.class, this::onNotified)
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
        notifier.registered(r.registration());
        registrationCount++;
        return this;
    }

    private Behavior<Command> onTouch(Touch t) {
        AccessGrant grant = notifier.grant();
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
        if (notifier.invalidating(page) || !faulting.add(page)) {
            return this; // an invalidation of it is running, or a fault is already on its way
        }
        faults++;
        long sampled = notifier.readBegin(); // before asking the host
        getContext().ask(PageReply.class, mm, FAULT_TIMEOUT, replyTo -> new MmCommand.GetUserPage(page, false, replyTo),
                (reply, failure) -> new Paged(page, sampled, reply));
        return this;
    }

    private Behavior<Command> onPaged(Paged p) {
        faulting.remove(p.page());
        if (!(p.reply() instanceof PageReply.Granted) || !notifier.registered()) {
            return this;
        }
        PageReply.Granted g = (PageReply.Granted) p.reply();
        // An invalidation ran or is running since we asked; the answer may be stale.
        if (notifier.readRetry(p.sampledSeq(), p.page()) && variant != Variant.NO_FAULT_RETRY) {
            retries++;
            return this;
        }
        translations.install(p.page(), g.pfn(), g.generation());
        return this;
    }

    private Behavior<Command> onNotified(Notified n) {
        released = false;
        notifier.dispatch(n.notification(), this);
        return released ? finish() : this;
    }

    @Override
    public void invalidateStart(MmuNotification.InvalidateStart s) {
        invalidations++;
        acknowledge(NotifierReply.Ack.clean(s.subscription(), s.batch()), s.replyTo(), s.ranges(), false);
    }

    @Override
    public void release(MmuNotification.Release r) {
        if (ackDelay.isZero()) {
            translations.dropAll();
            r.replyTo().tell(NotifierReply.Ack.clean(r.subscription(), r.batch()));
            released = true;
            return;
        }
        acknowledge(NotifierReply.Ack.clean(r.subscription(), r.batch()), r.replyTo(), List.of(), true);
    }

    @Override
    public boolean young(Range range, boolean clear) {
        return translations.holdsAny(range);
    }

    @Override
    public void fenced(MmuNotification.Fenced f) {
        if (f.subscription() < 0) {
            released = true; // the mm exited before we could register
            return;
        }
        fences++;
        translations.dropAll();
        // Recovery takes longer each time, as a partition that keeps missing its deadline would.
        getContext().scheduleOnce(Duration.ofMillis(Math.min(2_000, 50 * fences)), getContext().getSelf(),
                Reregister.INSTANCE);
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

    private void drop(List<Range> ranges, boolean all) {
        if (all) {
            translations.dropAll();
        } else {
            translations.drop(ranges);
        }
    }
}
