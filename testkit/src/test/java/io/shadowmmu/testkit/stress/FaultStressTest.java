package io.shadowmmu.testkit.stress;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.fault.CrashCounters;
import io.shadowmmu.testkit.fault.CrashPlan;
import io.shadowmmu.testkit.fault.Crashing;
import io.shadowmmu.testkit.fault.FaultPlan;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import io.shadowmmu.scenario.oracle.CoherenceOracle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Millions of secondary-MMU accesses on a churning host, under every fault the testkit injects: delayed, reordered
 * and duplicated notifications, subscribers crashed and restarted, acks slower than the deadline (fences), and the
 * host's own page migration. The oracle must end with no violation and the frame audit with no leak. Seeded; the
 * default form is bounded for CI, {@code -Pstress} (system property {@code shadowmmu.stress}) runs ten times longer.
 */
class FaultStressTest {
    private static final boolean STRESS = Boolean.getBoolean("shadowmmu.stress");
    private static final long ACCESSES = STRESS ? 15_000_000 : 1_500_000;
    private static final int BURST = 1_000;
    private static final int PAGES = 256;
    private static final long PAGE = 4096;
    private static final long SEED = 20261122;
    private static final Duration PATIENCE = Duration.ofSeconds(30);

    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.scheduler.tick-duration = 1ms");

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void accessesUnderDelaysReordersCrashesAndMissedDeadlinesBreakNoInvariantAndLeakNoFrame() {
        Settings settings = Settings.withOverrides(Map.of("host.memory", "16m", "migration.enabled", "on",
                "migration.interval", "2ms", "migration.pages-per-interval", "8"));
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        HostContext context = HostContext.create(settings, oracle);
        ActorRef<HostCommand> host = kit.spawn(HostActor.create(context));
        TestProbe<HostCommand.ProcessSpawned> spawned = kit.createTestProbe();
        host.tell(new HostCommand.SpawnProcess("stressed", spawned.getRef()));
        HostCommand.ProcessSpawned process = spawned.receiveMessage(PATIENCE);
        ActorRef<MmCommand> mm = process.process();
        TestProbe<MmResult> result = kit.createTestProbe();
        mm.tell(new MmCommand.Mmap(0, PAGES * PAGE, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                result.getRef()));
        long base = ((MmResult.Done) result.receiveMessage(PATIENCE)).value();

        List<Subscriber> subscribers = List.of(
                // Atomic subscribers behind lossless but unruly links, crashed now and then.
                subscriber("reordered", mm, process.mm(), context, base, FaultPlan.seeded(SEED)
                        .delays(Duration.ZERO, Duration.ofMillis(2)).reorders(0.2).duplicates(0.05),
                        Duration.ofSeconds(5), CrashPlan.seeded(SEED + 1).randomly(0.0005).atMessages(300)),
                subscriber("delayed", mm, process.mm(), context, base, FaultPlan.seeded(SEED + 2)
                        .delays(Duration.ZERO, Duration.ofMillis(1)).reorders(0.05),
                        Duration.ofSeconds(5), CrashPlan.seeded(SEED + 3).randomly(0.001)),
                // Its acks arrive after its deadline: every batch it is part of fences it; it re-registers later.
                subscriber("slow", mm, process.mm(), context, base, FaultPlan.seeded(SEED + 4)
                        .slowAcks(Duration.ofMillis(30)), Duration.ofMillis(10), CrashPlan.seeded(SEED + 5)));

        SplittableRandom random = new SplittableRandom(SEED);
        TestProbe<StressSecondary.Done> done = kit.createTestProbe();
        long started = System.nanoTime();
        long accesses = 0;
        long operations = 0;
        while (accesses < ACCESSES) {
            for (Subscriber s : subscribers) {
                s.ref.tell(new StressSecondary.Burst(BURST, done.getRef()));
            }
            churn(mm, base, random, result, operations++);
            List<String> answered = new ArrayList<>();
            for (int i = 0; i < subscribers.size(); i++) {
                try {
                    answered.add(done.receiveMessage(PATIENCE).name());
                } catch (AssertionError e) {
                    throw new AssertionError("round " + operations + ": only " + answered + " finished a burst; "
                            + subscribers.stream().map(s -> s.name + " " + s.crashes).toList(), e);
                }
            }
            accesses = 0;
            for (Subscriber s : subscribers) {
                accesses += s.totals.accesses.get();
            }
            assertThat(operations).as("accesses stopped growing: %d after %d operations", accesses, operations)
                    .isLessThan(ACCESSES / 100);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        mm.tell(new MmCommand.Exit(result.getRef()));
        result.receiveMessage(PATIENCE);
        result.awaitAssert(PATIENCE, () -> {
            assertThat(context.processes()).isEmpty();
            return null;
        });
        TestProbe<HostCommand.AuditReport> audit = kit.createTestProbe();
        host.tell(new HostCommand.Audit(audit.getRef()));
        HostCommand.AuditReport report = audit.receiveMessage(PATIENCE);
        oracle.audit(report);
        oracle.checkLiveness(Duration.ZERO);

        long crashes = 0;
        long fences = 0;
        long reordered = 0;
        long hits = 0;
        List<String> lines = new ArrayList<>();
        for (Subscriber s : subscribers) {
            crashes += s.crashes.crashes();
            fences += s.totals.fences.get();
            reordered += s.totals.link.reordered();
            hits += s.totals.hits.get();
            lines.add(s.name + ": " + s.totals.accesses + " accesses, " + s.totals.hits + " hits, " + s.totals.faults
                    + " faults, " + s.totals.retries + " retries, " + s.totals.fences + " fences, " + s.crashes
                    + "; link: " + s.totals.link);
        }
        String story = operations + " host operations in " + took.toMillis() + " ms; " + String.join("; ", lines)
                + "; oracle: " + oracle.counts() + ", first violations: " + oracle.violations().stream().limit(3)
                .map(v -> v.describe()).toList();
        LoggerFactory.getLogger(FaultStressTest.class).info("{}", story);
        assertThat(accesses).as(story).isGreaterThanOrEqualTo(ACCESSES);
        assertThat(hits).as(story).isGreaterThan(accesses / 2);
        assertThat(crashes).as(story).isPositive();
        assertThat(fences).as(story).isPositive();
        assertThat(reordered).as(story).isPositive();
        assertThat(oracle.violations()).as(story).isEmpty();
        assertThat(oracle.clean()).as(story).isTrue();
        assertThat(report.leaked()).as(story).isZero();
        assertThat(report.problems()).as(story).isEmpty();
        assertThat(oracle.liveTranslations()).as("every translation dropped at exit; " + story).isZero();
    }

    private record Subscriber(String name, ActorRef<StressSecondary.Command> ref, StressSecondary.Totals totals,
                              CrashCounters crashes) {
    }

    private static Subscriber subscriber(String name, ActorRef<MmCommand> mm, long mmId, HostContext context,
                                         long base, FaultPlan link, Duration deadline, CrashPlan crashes) {
        StressSecondary.Totals totals = new StressSecondary.Totals();
        CrashCounters counters = new CrashCounters();
        // A burst is what the test waits for: crashes land on notifications, fault replies and re-registrations.
        CrashPlan plan = crashes.onlyWhen(m -> !(m instanceof StressSecondary.Burst));
        ActorRef<StressSecondary.Command> ref = kit.spawn(Crashing.supervised(StressSecondary.create(mm, mmId,
                context.memory(), base, PAGES, name, link, deadline, Duration.ofMillis(50), totals), plan, counters),
                name);
        return new Subscriber(name, ref, totals, counters);
    }

    /** One host operation on a random part of the region, waited for: each one invalidates the secondaries. */
    private static void churn(ActorRef<MmCommand> mm, long base, SplittableRandom random, TestProbe<MmResult> result,
                              long round) {
        long first = random.nextInt(PAGES);
        long length = Math.min(1 + random.nextInt(16), PAGES - first) * PAGE;
        long va = base + first * PAGE;
        switch (random.nextInt(4)) {
            case 0:
                mm.tell(new MmCommand.Munmap(va, length, result.getRef()));
                result.receiveMessage(PATIENCE);
                mm.tell(new MmCommand.Mmap(va, length, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0,
                        result.getRef()));
                break;
            case 1:
                mm.tell(new MmCommand.Mprotect(va, length, Protection.READ, result.getRef()));
                result.receiveMessage(PATIENCE);
                mm.tell(new MmCommand.Mprotect(va, length, Protection.READ_WRITE, result.getRef()));
                break;
            case 2:
                mm.tell(new MmCommand.MadviseDontneed(va, length, result.getRef()));
                break;
            default:
                mm.tell(new MmCommand.Access(va, true, round, result.getRef()));
                break;
        }
        result.receiveMessage(PATIENCE);
    }
}
