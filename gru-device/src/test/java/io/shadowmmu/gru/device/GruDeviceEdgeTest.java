package io.shadowmmu.gru.device;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Edge cases of the device against probe mms: the range-flush cap boundary, non-blockable starts, invalidations of
 * an mm whose contexts are all unloaded, and AMOs from two devices on one shared frame.
 */
class GruDeviceEdgeTest {
    private static final long VA = 0x40_0000L;
    private static final long PAGE = PhysicalMemory.PAGE_SIZE;
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private final PhysicalMemory memory = new PhysicalMemory(64, ContentMode.FULL, true, CoherenceEvents.NONE);

    private ActorRef<GruCommand> device(Map<String, String> gru) {
        return kit.spawn(GruDevice.create("gru-edge", GruSettings.read(Settings.withOverrides(gru)), memory));
    }

    /** An mm played by the test: it owns the page table and sends the notifications. */
    private final class ProbeMm {
        final long mmId;
        final PageTable table = new PageTable();
        final TestProbe<MmCommand> probe = kit.createTestProbe();
        final TestProbe<NotifierReply> acks = kit.createTestProbe();
        ActorRef<MmuNotification> subscriber;
        long subscription;

        ProbeMm(long mmId) {
            this.mmId = mmId;
        }

        int open(ActorRef<GruCommand> device) {
            TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
            device.tell(new GruCommand.OpenContext(probe.getRef(), mmId, opened.getRef()));
            int context = opened.receiveMessage().context();
            MmCommand.Register reg = probe.expectMessageClass(MmCommand.Register.class);
            subscriber = reg.subscriber();
            subscription = mmId * 10;
            reg.replyTo().tell(new MmCommand.Registered(mmId, subscription, new AccessGrant(), List.of(), table));
            return context;
        }

        int map(long va) {
            int pfn = memory.allocate(mmId, PhysicalMemory.FLAG_ANON);
            table.set(va, Pte.make(pfn, true) | Pte.DIRTY);
            return pfn;
        }

        void start(long batch, boolean blockable, Range... ranges) {
            subscriber.tell(new MmuNotification.InvalidateStart(subscription, mmId, batch, List.of(ranges),
                    InvalidationEvent.UNMAP, blockable, acks.getRef()));
        }

        void end(long batch, Range... ranges) {
            subscriber.tell(new MmuNotification.InvalidateEnd(subscription, mmId, batch, List.of(ranges)));
        }

        NotifierReply.Ack expectAck(long batch) {
            NotifierReply.Ack a = acks.expectMessageClass(NotifierReply.Ack.class, Duration.ofSeconds(5));
            assertThat(a.batch()).isEqualTo(batch);
            return a;
        }
    }

    private static GruCommand.BatchResult run(ActorRef<GruCommand> device, int context, Instructions ins) {
        TestProbe<GruCommand.BatchResult> p = kit.createTestProbe();
        device.tell(new GruCommand.Execute(context, ins, 0, p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    private static GruStats stats(ActorRef<GruCommand> device) {
        TestProbe<GruStats> p = kit.createTestProbe();
        device.tell(new GruCommand.GetStats(p.getRef()));
        return p.receiveMessage();
    }

    private static Instructions loads(long... vas) {
        return new Instructions(new byte[vas.length], vas, new long[vas.length], vas.length);
    }

    @Test
    void aRangeOfExactlyTheCapIsARangeFlushOneMorePageFlushesTheWholeAsid() {
        ActorRef<GruCommand> dev = device(Map.of());
        ProbeMm mm = new ProbeMm(21);
        int ctx = mm.open(dev);
        long far = VA + (100L << 20);
        mm.map(VA);
        mm.map(far);
        assertThat(run(dev, ctx, loads(VA, far)).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        mm.start(1, true, Range.ofPages(VA, 1024));
        mm.expectAck(1);
        mm.end(1, Range.ofPages(VA, 1024));
        assertThat(stats(dev).entriesFlushed()).as("1024 pages: only the range").isEqualTo(1);

        assertThat(run(dev, ctx, loads(VA)).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        mm.start(2, true, Range.ofPages(VA, 1025));
        mm.expectAck(2);
        mm.end(2, Range.ofPages(VA, 1025));
        GruStats s = stats(dev);
        assertThat(s.entriesFlushed()).as("1025 pages: the whole ASID, the far page too").isEqualTo(3);
        assertThat(s.flushes()).isEqualTo(2);
        long hitsBefore = s.hits();
        run(dev, ctx, loads(far));
        assertThat(stats(dev).hits()).isEqualTo(hitsBefore);
    }

    @Test
    void aNonBlockableStartIsAckedNotNackedAndFlushes() {
        ActorRef<GruCommand> dev = device(Map.of());
        ProbeMm mm = new ProbeMm(22);
        int ctx = mm.open(dev);
        mm.map(VA);
        run(dev, ctx, loads(VA));
        mm.start(1, false, Range.ofPages(VA, 1));
        // An atomic subscriber never has to wait, so an OOM-reaper style start is served, not refused.
        mm.expectAck(1);
        mm.end(1, Range.ofPages(VA, 1));
        assertThat(stats(dev).entriesFlushed()).isEqualTo(1);
    }

    @Test
    void anInvalidationOfAnMmWithNoLoadedContextStillHoldsItsDropInsUntilTheEnd() {
        ActorRef<GruCommand> dev = device(Map.of("gru.contexts-per-device", "1"));
        ProbeMm a = new ProbeMm(23);
        ProbeMm b = new ProbeMm(24);
        int ca = a.open(dev);
        a.map(VA);
        assertThat(run(dev, ca, loads(VA)).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        int cb = b.open(dev);
        b.map(VA);
        assertThat(run(dev, cb, loads(VA)).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(stats(dev).contextSteals()).as("b's context took a's hardware context").isPositive();
        long flushes = stats(dev).flushes();

        a.start(1, true, Range.ofPages(VA, 1));
        a.expectAck(1);
        assertThat(stats(dev).flushes()).as("nothing loaded for a: the flush is skipped (lazy)").isEqualTo(flushes);
        TestProbe<GruCommand.BatchResult> result = kit.createTestProbe();
        dev.tell(new GruCommand.Execute(ca, loads(VA), 0, result.getRef()));
        result.expectNoMessage(Duration.ofMillis(100));
        a.end(1, Range.ofPages(VA, 1));
        assertThat(result.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }

    /**
     * Two devices add to one word of a frame both mms map (MAP_SHARED): an AMO is atomic, so no addition is lost
     * even though the devices run on different threads.
     */
    @Test
    void amosFromTwoDevicesOnASharedFrameLoseNoUpdate() {
        ActorRef<GruCommand> d1 = device(Map.of());
        ActorRef<GruCommand> d2 = device(Map.of());
        ProbeMm a = new ProbeMm(25);
        ProbeMm b = new ProbeMm(26);
        int c1 = a.open(d1);
        int c2 = b.open(d2);
        int shared = a.map(VA);
        b.table.set(VA, Pte.make(shared, true) | Pte.DIRTY);
        int n = 20_000;
        byte[] ops = new byte[n];
        long[] vas = new long[n];
        long[] values = new long[n];
        java.util.Arrays.fill(ops, Instructions.AMO);
        java.util.Arrays.fill(vas, VA);
        java.util.Arrays.fill(values, 1);
        Instructions adds = new Instructions(ops, vas, values, n);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        int rounds = 10;
        for (int r = 0; r < rounds; r++) {
            d1.tell(new GruCommand.Execute(c1, adds, 0, results.getRef()));
            d2.tell(new GruCommand.Execute(c2, adds, 0, results.getRef()));
        }
        for (GruCommand.BatchResult r : results.receiveSeveralMessages(2 * rounds, Duration.ofSeconds(20))) {
            assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        }
        assertThat(memory.read(shared, 0)).isEqualTo(2L * rounds * n);
    }
}
