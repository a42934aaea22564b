package io.shadowmmu.testkit.fault;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A correct subscriber behind a faulty link on a real host, watched by the oracle: delays, reorders and duplicates
 * make faults retry and slow acks get it fenced, but nothing it does breaks an invariant and no frame leaks.
 */
class FaultyLinkWithRealHostTest {
    private static final long PAGE = 4096;
    private static final int PAGES = 64;

    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.scheduler.tick-duration = 1ms");

    private record Run(CoherenceOracle oracle, FaultCounters link, TrackingSubscriber.Stats subscriber) {
    }

    @Test
    void delaysReordersAndDuplicatesLeaveTheOracleClean() {
        FaultPlan plan = FaultPlan.seeded(20261122).delays(Duration.ZERO, Duration.ofMillis(3)).reorders(0.2)
                .duplicates(0.1);
        Run run = churn(plan, Duration.ofSeconds(2), 7, 300);
        assertThat(run.oracle().violations()).isEmpty();
        assertThat(run.oracle().eventsSeen()).isGreaterThan(500);
        assertThat(run.oracle().liveTranslations()).as("everything dropped at exit").isZero();
        assertThat(run.link().reordered()).isPositive();
        assertThat(run.link().duplicated()).isPositive();
        assertThat(run.link().delayed()).isPositive();
        assertThat(run.subscriber().acks()).isPositive();
    }

    @Test
    void slowAcksPastTheDeadlineGetTheSubscriberFencedAndStillNothingBreaks() {
        FaultPlan plan = FaultPlan.seeded(7).slowAcks(Duration.ofMillis(150));
        Run run = churn(plan, Duration.ofMillis(30), 11, 60);
        assertThat(run.subscriber().fences()).as("acks later than the deadline").isPositive();
        assertThat(run.oracle().violations()).isEmpty();
        assertThat(run.link().slowReplies()).isPositive();
    }

    @Test
    void theSameHarnessCatchesASubscriberThatAcksBeforeItDrops() {
        // Bound: 300 rounds with seed 7; the host frees right after the early ack, while the translation lives.
        Run run = churn(FaultPlan.seeded(3), Duration.ofSeconds(2), 7, 300, TrackingSubscriber::ackingBeforeDrop);
        assertThat(run.oracle().count(Invariant.I3)).isPositive();
        assertThat(run.oracle().violations().get(0).detail()).contains("tracking subscriber");
    }

    private interface SubscriberFactory {
        Behavior<TrackingSubscriber.Command> create(ActorRef<MmCommand> mm, CoherenceEvents events,
                                                    Duration deadline,
                                                    Function<ActorRef<MmuNotification>, ActorRef<MmuNotification>> l);
    }

    private static Run churn(FaultPlan plan, Duration ackDeadline, long seed, int rounds) {
        return churn(plan, ackDeadline, seed, rounds, TrackingSubscriber::create);
    }

    /**
     * One process with a region of {@value #PAGES} pages: the subscriber touches random pages while the process
     * writes, unmaps and maps again random parts of it; then exit, audit and liveness.
     */
    private static Run churn(FaultPlan plan, Duration ackDeadline, long seed, int rounds,
                             SubscriberFactory factory) {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "8m"));
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        HostContext context = HostContext.create(settings, oracle);
        ActorRef<HostCommand> host = kit.spawn(HostActor.create(context));
        TestProbe<HostCommand.ProcessSpawned> spawned = kit.createTestProbe();
        host.tell(new HostCommand.SpawnProcess("churn", spawned.getRef()));
        ActorRef<MmCommand> mm = spawned.receiveMessage().process();

        TestProbe<MmResult> result = kit.createTestProbe();
        mm.tell(new MmCommand.Mmap(0, PAGES * PAGE, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                result.getRef()));
        long base = ((MmResult.Done) result.receiveMessage()).value();

        FaultCounters counters = new FaultCounters();
        Function<ActorRef<MmuNotification>, ActorRef<MmuNotification>> link = sub ->
                FaultyLink.notifications(kit.spawn(FaultyLink.create(sub, plan, counters)));
        ActorRef<TrackingSubscriber.Command> subscriber = kit.spawn(factory.create(mm, oracle, ackDeadline,
                link));

        Random random = new Random(seed);
        TestProbe<Boolean> touched = kit.createTestProbe();
        Duration patience = Duration.ofSeconds(15);
        // A touch completes only once the subscriber is registered (before that it re-asks): the churn below then
        // always has a subscriber to notify, however slowly the actors got going.
        subscriber.tell(new TrackingSubscriber.Touch(base, touched.getRef()));
        touched.receiveMessage(patience);
        for (int round = 0; round < rounds; round++) {
            long va = base + random.nextInt(PAGES) * PAGE;
            switch (random.nextInt(4)) {
                case 0:
                    mm.tell(new MmCommand.Access(va, true, round, result.getRef()));
                    result.receiveMessage(patience);
                    break;
                case 1:
                    long pages = 1 + random.nextInt(8);
                    long length = Math.min(pages * PAGE, base + PAGES * PAGE - va);
                    mm.tell(new MmCommand.Munmap(va, length, result.getRef()));
                    result.receiveMessage(patience);
                    mm.tell(new MmCommand.Mmap(va, length, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                            result.getRef()));
                    result.receiveMessage(patience);
                    break;
                default:
                    subscriber.tell(new TrackingSubscriber.Touch(va, touched.getRef()));
                    touched.receiveMessage(patience);
                    break;
            }
        }
        TestProbe<TrackingSubscriber.Stats> stats = kit.createTestProbe();
        subscriber.tell(new TrackingSubscriber.GetStats(stats.getRef()));
        TrackingSubscriber.Stats before = stats.receiveMessage();

        mm.tell(new MmCommand.Exit(result.getRef()));
        result.receiveMessage(patience);
        result.awaitAssert(patience, () -> {
            assertThat(context.processes()).isEmpty();
            return null;
        });
        TestProbe<HostCommand.AuditReport> audit = kit.createTestProbe();
        host.tell(new HostCommand.Audit(audit.getRef()));
        oracle.audit(audit.receiveMessage(patience));
        oracle.checkLiveness(Duration.ZERO);
        return new Run(oracle, counters, before);
    }
}
