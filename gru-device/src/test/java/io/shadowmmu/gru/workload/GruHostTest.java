package io.shadowmmu.gru.workload;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.gru.device.DeviceBatch;
import io.shadowmmu.gru.device.GruCommand;
import io.shadowmmu.gru.device.GruDevice;
import io.shadowmmu.gru.device.GruStats;
import io.shadowmmu.gru.device.Op;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** GRU devices bound to processes of a real host: the host's invalidations reach the device TLB. */
class GruHostTest {
    private static final long PAGE = 4096;
    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING")
                .withFallback(ConfigFactory.load()));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** One host, one process, one device with a context open for it. */
    private static final class Rig {
        final DeviceTranslationTracker events = new DeviceTranslationTracker();
        final HostContext host;
        final ActorRef<HostCommand> hostActor;
        final ActorRef<MmCommand> mm;
        final long mmId;
        final ActorRef<GruCommand> device;
        final int context;

        Rig(Map<String, String> overrides) {
            Map<String, String> o = new HashMap<>();
            o.put("host.memory", "16m");
            o.putAll(overrides);
            Settings settings = Settings.withOverrides(o);
            host = HostContext.create(settings, events);
            hostActor = kit.spawn(HostActor.create(host));
            TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
            hostActor.tell(new HostCommand.SpawnProcess("user", p.getRef()));
            HostCommand.ProcessSpawned spawned = p.receiveMessage();
            mm = spawned.process();
            mmId = spawned.mm();
            device = kit.spawn(GruDevice.create("gru0", GruSettings.from(settings), host.memory(), events));
            TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
            device.tell(new GruCommand.OpenContext(mmId, mm, "user", opened.getRef()));
            GruCommand.ContextOpened c = opened.receiveMessage(Duration.ofSeconds(5));
            assertThat(c.ok()).as(c.detail()).isTrue();
            context = c.context();
        }

        MmResult call(java.util.function.Function<ActorRef<MmResult>, MmCommand> msg) {
            TestProbe<MmResult> p = kit.createTestProbe();
            mm.tell(msg.apply(p.getRef()));
            return p.receiveMessage(Duration.ofSeconds(20));
        }

        long mmap(long length) {
            MmResult r = call(reply -> MmCommand.Mmap.anonymous(length, Protection.READ_WRITE, reply));
            assertThat(r.ok()).as("%s", r).isTrue();
            return ((MmResult.Done) r).value();
        }

        /**
         * Runs a batch the way a user process does: a failed instruction takes a host fault and is re-issued.
         * Returns the final result, or the host's refusal.
         */
        Object run(DeviceBatch batch) {
            TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
            TestProbe<PageReply> faults = kit.createTestProbe();
            int from = 0;
            while (true) {
                device.tell(new GruCommand.Execute(context, batch, from, results.getRef()));
                GruCommand.BatchResult r = results.receiveMessage(Duration.ofSeconds(5));
                if (r.status() != GruCommand.BatchResult.Status.NEEDS_HOST_FAULT) {
                    return r;
                }
                mm.tell(new MmCommand.GetUserPage(r.faultVa(), r.faultWrite(), faults.getRef()));
                PageReply reply = faults.receiveMessage(Duration.ofSeconds(5));
                if (reply instanceof PageReply.Denied) {
                    return reply;
                }
                from = r.next();
            }
        }

        long hostRead(long va) {
            MmResult r = call(reply -> new MmCommand.Access(va, false, 0, reply));
            assertThat(r.ok()).as("%s", r).isTrue();
            return ((MmResult.Done) r).value();
        }

        GruStats stats() {
            TestProbe<GruStats> p = kit.createTestProbe();
            device.tell(new GruCommand.GetStats(p.getRef()));
            return p.receiveMessage();
        }

        GruCommand.Inspection inspect() {
            TestProbe<GruCommand.Inspection> p = kit.createTestProbe();
            device.tell(new GruCommand.Inspect(mmId, p.getRef()));
            return p.receiveMessage();
        }
    }

    @Test
    void deviceStoresAreSeenByTheHostAndMunmapLeavesNoStaleAccess() {
        Rig rig = new Rig(Map.of());
        long base = rig.mmap(16 * PAGE);
        DeviceBatch.Builder stores = new DeviceBatch.Builder(16);
        for (int i = 0; i < 16; i++) {
            stores.add(Op.STORE, base + i * PAGE + 8, 1000 + i);
        }
        Object r = rig.run(stores.build());
        assertThat(r).isInstanceOf(GruCommand.BatchResult.class);
        assertThat(((GruCommand.BatchResult) r).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(rig.hostRead(base + 5 * PAGE + 8)).isEqualTo(1005);
        assertThat(rig.inspect().tlbEntries()).isEqualTo(16);

        MmResult unmapped = rig.call(reply -> new MmCommand.Munmap(base, 16 * PAGE, reply));
        assertThat(unmapped.ok()).isTrue();

        assertThat(rig.inspect().tlbEntries()).as("munmap flushed the device TLB").isZero();
        assertThat(rig.stats().entriesFlushed()).isEqualTo(16);
        Object after = rig.run(DeviceBatch.of(Op.LOAD, base + 8, 0));
        assertThat(after).isInstanceOf(PageReply.Denied.class);
        assertThat(((PageReply.Denied) after).errno()).isEqualTo(Errno.SEGV_MAPERR);
        assertThat(rig.events.violations()).isEmpty();
        assertThat(rig.events.liveTranslations()).isZero();
    }

    @Test
    void aStoreAfterMprotectReadOnlyIsRefusedByTheHostFault() {
        Rig rig = new Rig(Map.of());
        long base = rig.mmap(4 * PAGE);
        rig.run(DeviceBatch.of(Op.STORE, base, 7));
        assertThat(rig.call(reply -> new MmCommand.Mprotect(base, 4 * PAGE, Protection.READ, reply)).ok())
                .isTrue();

        Object r = rig.run(DeviceBatch.of(Op.STORE, base, 8));
        assertThat(r).isInstanceOf(PageReply.Denied.class);
        assertThat(((PageReply.Denied) r).errno()).isEqualTo(Errno.SEGV_ACCERR);
        assertThat(rig.hostRead(base)).isEqualTo(7);
        Object load = rig.run(DeviceBatch.of(Op.LOAD, base, 0));
        assertThat(((GruCommand.BatchResult) load).lastValue()).isEqualTo(7);
        assertThat(rig.events.violations()).isEmpty();
    }

    @Test
    void aStoreAfterForkBreaksCopyOnWriteThroughTheHostFault() {
        Rig rig = new Rig(Map.of());
        long base = rig.mmap(4 * PAGE);
        rig.run(DeviceBatch.of(Op.STORE, base, 7));
        TestProbe<MmCommand.ForkResult> forked = kit.createTestProbe();
        rig.mm.tell(new MmCommand.Fork("child", forked.getRef()));
        MmCommand.ForkResult child = forked.receiveMessage(Duration.ofSeconds(5));
        assertThat(child.status().ok()).isTrue();

        Object r = rig.run(DeviceBatch.of(Op.STORE, base, 8));
        assertThat(((GruCommand.BatchResult) r).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(rig.hostRead(base)).isEqualTo(8);
        TestProbe<MmResult> p = kit.createTestProbe();
        child.child().tell(new MmCommand.Access(base, false, 0, p.getRef()));
        assertThat(((MmResult.Done) p.receiveMessage()).value()).as("the child keeps the pre-fork value")
                .isEqualTo(7);
        assertThat(rig.stats().dropinFailures()).as("the COW page was read-only to the walker").isPositive();
        assertThat(rig.events.violations()).isEmpty();
    }

    /** The acceptance numbers: a 64 MiB munmap of a bound process costs one device flush per notified range. */
    @ParameterizedTest
    @CsvSource({"PER_PAGE, 16384", "PER_PT_PAGE, 32", "RANGE, 1", "GATHER, 1"})
    void munmapOf64MiBCostsOneFlushPerNotifiedRange(String strategy, long expected) {
        Rig rig = new Rig(Map.of("host.memory", "96m", "notifier.strategy", strategy,
                "reclaim.enabled", "off"));
        long size = 64L << 20;
        long base = rig.mmap(size);
        DeviceBatch.Builder touch = new DeviceBatch.Builder((int) (size / PAGE));
        for (long va = base; va < base + size; va += PAGE) {
            touch.add(Op.STORE, va, va);
        }
        assertThat(((GruCommand.BatchResult) rig.run(touch.build())).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        long before = rig.stats().flushes();

        assertThat(rig.call(reply -> new MmCommand.Munmap(base, size, reply)).ok()).isTrue();

        GruStats s = rig.stats();
        assertThat(s.flushes() - before).isEqualTo(expected);
        assertThat(rig.inspect().tlbEntries()).isZero();
        assertThat(rig.events.violations()).isEmpty();
    }
}
