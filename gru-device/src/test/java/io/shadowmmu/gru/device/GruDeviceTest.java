package io.shadowmmu.gru.device;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.config.ContentMode;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** GruDevice against a host mm played by the test (deterministic interleavings). */
class GruDeviceTest {
    private static final long BASE = 0x10_0000_0000L;
    private static final long PAGE = PhysicalMemory.PAGE_SIZE;
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

    private static GruSettings settings(int contexts, int handles) {
        return new GruSettings(contexts, 512, 8, handles, 1024, 256);
    }

    private final PhysicalMemory memory = new PhysicalMemory(4096, ContentMode.FULL, true, CoherenceEvents.NONE);

    private ActorRef<GruCommand> device(GruSettings s) {
        return device(s, CoherenceEvents.NONE);
    }

    private ActorRef<GruCommand> device(GruSettings s, CoherenceEvents events) {
        return kit.spawn(GruDevice.create("gru-test", s, memory, events));
    }

    private static GruCommand.BatchResult exec(ActorRef<GruCommand> device, int context, DeviceBatch batch) {
        TestProbe<GruCommand.BatchResult> p = kit.createTestProbe();
        device.tell(new GruCommand.Execute(context, batch, 0, p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(5));
    }

    private static GruStats stats(ActorRef<GruCommand> device) {
        TestProbe<GruStats> p = kit.createTestProbe();
        device.tell(new GruCommand.GetStats(p.getRef()));
        return p.receiveMessage();
    }

    private static GruCommand.Inspection inspect(ActorRef<GruCommand> device, long mm) {
        TestProbe<GruCommand.Inspection> p = kit.createTestProbe();
        device.tell(new GruCommand.Inspect(mm, p.getRef()));
        return p.receiveMessage();
    }

    @Test
    void aMissDropsInFromTheHostTableAndTheNextAccessHits() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 1, memory);
        int ctx = mm.open(dev);
        int pfn = mm.map(BASE, true);

        GruCommand.BatchResult r = exec(dev, ctx, new DeviceBatch.Builder(3)
                .add(Op.STORE, BASE + 16, 41).add(Op.AMO_ADD, BASE + 16, 1).add(Op.LOAD, BASE + 16, 0).build());

        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(r.next()).isEqualTo(3);
        assertThat(r.lastValue()).isEqualTo(42);
        assertThat(memory.read(pfn, 2)).isEqualTo(42);
        GruStats s = stats(dev);
        assertThat(s.misses()).isEqualTo(1);
        assertThat(s.dropins()).isEqualTo(1);
        assertThat(s.hits()).isEqualTo(2);
        assertThat(Pte.isDirty(mm.table.get(BASE))).as("the walker sets the PTE dirty for a write drop-in").isTrue();
        mm.probe.expectNoMessage(Duration.ofMillis(50)); // the hit and drop-in paths never message the mm
    }

    @Test
    void aMissingPteFailsTheInstructionBackToTheProcess() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 2, memory);
        int ctx = mm.open(dev);
        mm.map(BASE, true);

        GruCommand.BatchResult r = exec(dev, ctx, new DeviceBatch.Builder(2)
                .add(Op.STORE, BASE, 1).add(Op.LOAD, BASE + PAGE, 0).build());

        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.NEEDS_HOST_FAULT);
        assertThat(r.next()).isEqualTo(1);
        assertThat(r.faultVa()).isEqualTo(BASE + PAGE);
        assertThat(r.faultWrite()).isFalse();
        assertThat(stats(dev).dropinFailures()).isEqualTo(1);
    }

    @Test
    void noDropInInstallsInsideAnActiveRangeTheBatchWaitsForTheEnd() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 3, memory);
        int ctx = mm.open(dev);
        int oldPfn = mm.map(BASE, true);
        List<Range> range = List.of(Range.ofPages(BASE, 1));

        long b = mm.start(range, InvalidationEvent.MIGRATE);
        mm.expectAck(b);
        TestProbe<GruCommand.BatchResult> result = kit.createTestProbe();
        dev.tell(new GruCommand.Execute(ctx, DeviceBatch.of(Op.LOAD, BASE, 0), 0, result.getRef()));
        result.expectNoMessage(Duration.ofMillis(100));
        GruCommand.Inspection during = inspect(dev, 3);
        assertThat(during.rangeActive()).isEqualTo(1);
        assertThat(during.tlbEntries()).as("nothing installed while the range is active").isZero();
        assertThat(during.parked()).isEqualTo(1);
        assertThat(stats(dev).dropins()).isZero();

        // The host migrates the page while the range is active, then ends the invalidation.
        int newPfn = memory.allocate(3, PhysicalMemory.FLAG_ANON);
        memory.write(newPfn, 0, 777);
        mm.table.set(BASE, Pte.make(newPfn, true));
        mm.end(b, range);

        GruCommand.BatchResult r = result.receiveMessage(Duration.ofSeconds(5));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(r.lastValue()).as("the load reads the new frame, never the old one").isEqualTo(777);
        assertThat(oldPfn).isNotEqualTo(newPfn);
        GruStats s = stats(dev);
        assertThat(s.rangeWaits()).isEqualTo(1);
        assertThat(s.dropins()).isEqualTo(1);
    }

    @Test
    void aRangeInFlightAtRegistrationBlocksDropInsUntilItsEnd() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 4, memory);
        mm.map(BASE, true);
        TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
        dev.tell(new GruCommand.OpenContext(4, mm.probe.getRef(), "p4", opened.getRef()));
        MmCommand.Register reg = mm.probe.expectMessageClass(MmCommand.Register.class);
        List<Range> range = List.of(Range.ofPages(BASE, 4));
        mm.answer(reg, List.of(new MmCommand.InFlight(99, range)));
        int ctx = opened.receiveMessage().context();

        TestProbe<GruCommand.BatchResult> result = kit.createTestProbe();
        dev.tell(new GruCommand.Execute(ctx, DeviceBatch.of(Op.STORE, BASE, 5), 0, result.getRef()));
        result.expectNoMessage(Duration.ofMillis(100));
        mm.end(99, range);
        assertThat(result.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }

    @Test
    void theAckIsSentInsideTheHandlerAfterTheFlush() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 5, memory);
        int ctx = mm.open(dev);
        for (int i = 0; i < 4; i++) {
            mm.map(BASE + i * PAGE, true);
            assertThat(exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE + i * PAGE, i)).status())
                    .isEqualTo(GruCommand.BatchResult.Status.DONE);
        }
        List<Range> range = List.of(Range.ofPages(BASE, 2));
        long b = mm.start(range, InvalidationEvent.UNMAP);
        // The inspection is queued behind the start: if the device deferred the ack (a sleeping subscriber), the ack
        // would not be in the probe by the time the inspection answers.
        GruCommand.Inspection after = inspect(dev, 5);
        NotifierReply r = mm.acks.expectMessageClass(NotifierReply.Ack.class, Duration.ZERO.plusMillis(1));
        NotifierReply.Ack ack = (NotifierReply.Ack) r;
        assertThat(ack.batch()).isEqualTo(b);
        assertThat(ack.dirty()).as("pages written through the device are reported dirty")
                .containsExactly(Range.ofPages(BASE, 2));
        assertThat(after.tlbEntries()).isEqualTo(2);
        assertThat(stats(dev).entriesFlushed()).isEqualTo(2);
        mm.end(b, range);
    }

    @Test
    void aStoreAfterMprotectReadOnlyFailsAndDoesNotWrite() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 6, memory);
        int ctx = mm.open(dev);
        int pfn = mm.map(BASE, true);
        assertThat(exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 1)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);

        // mprotect(PROT_READ): the host write-protects the PTE around a PROTECTION_VMA invalidation.
        List<Range> range = List.of(Range.ofPages(BASE, 1));
        long b = mm.start(range, InvalidationEvent.PROTECTION_VMA);
        mm.expectAck(b);
        mm.table.set(BASE, Pte.make(pfn, false));
        mm.end(b, range);

        GruCommand.BatchResult r = exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 2));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.NEEDS_HOST_FAULT);
        assertThat(r.faultWrite()).isTrue();
        assertThat(memory.read(pfn, 0)).as("the store did not happen").isEqualTo(1);
        GruCommand.BatchResult load = exec(dev, ctx, DeviceBatch.of(Op.LOAD, BASE, 0));
        assertThat(load.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(load.lastValue()).isEqualTo(1);
        assertThat(exec(dev, ctx, DeviceBatch.of(Op.AMO_ADD, BASE, 1)).status())
                .as("a read-only TLB entry does not let an AMO through")
                .isEqualTo(GruCommand.BatchResult.Status.NEEDS_HOST_FAULT);
    }

    /** The 64 MiB munmap of the acceptance criteria, delivered as 1 range, 32 PT-page ranges, or page by page. */
    @Test
    void flushCountFollowsTheRangesOfTheNotifications() {
        long size = 64L << 20;
        long pages = size / PAGE;
        assertThat(flushesFor(7, List.of(List.of(new Range(BASE, BASE + size))))).isEqualTo(1);

        List<List<Range>> ptPages = new ArrayList<>();
        for (long off = 0; off < size; off += 2L << 20) {
            ptPages.add(List.of(new Range(BASE + off, BASE + off + (2L << 20))));
        }
        assertThat(flushesFor(8, ptPages)).isEqualTo(32);

        List<List<Range>> perPage = new ArrayList<>();
        for (long p = 0; p < pages; p++) {
            perPage.add(List.of(Range.ofPages(BASE + p * PAGE, 1)));
        }
        assertThat(flushesFor(9, perPage)).isEqualTo(16_384);
    }

    /** Touches 16 pages spread over 64 MiB, delivers the notifications, returns the flushes they cost. */
    private long flushesFor(long mmId, List<List<Range>> messages) {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, mmId, memory);
        int ctx = mm.open(dev);
        DeviceBatch.Builder touch = new DeviceBatch.Builder(16);
        for (int i = 0; i < 16; i++) {
            long va = BASE + i * (4L << 20);
            mm.map(va, true);
            touch.add(Op.LOAD, va, 0);
        }
        assertThat(exec(dev, ctx, touch.build()).status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        long before = stats(dev).flushes();
        for (List<Range> m : messages) {
            long b = mm.start(m, InvalidationEvent.UNMAP);
            mm.end(b, m);
        }
        mm.acks.receiveSeveralMessages(messages.size(), Duration.ofSeconds(20));
        GruStats s = stats(dev);
        assertThat(s.entriesFlushed()).as("every touched page was flushed exactly once").isEqualTo(16);
        assertThat(inspect(dev, mmId).tlbEntries()).isZero();
        return s.flushes() - before;
    }

    @Test
    void moreRangesThanFlushHandlesWaitAndComplete() {
        ActorRef<GruCommand> dev = device(settings(4, 3));
        ProbeMm mm = new ProbeMm(kit, 10, memory);
        mm.open(dev);
        List<Range> ranges = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ranges.add(Range.ofPages(BASE + i * 2 * PAGE, 1));
        }
        long b = mm.start(ranges, InvalidationEvent.UNMAP);
        mm.expectAck(b);
        mm.end(b, ranges);
        GruStats s = stats(dev);
        assertThat(s.flushes()).isEqualTo(10);
        assertThat(s.handleWaits()).isEqualTo(7);
    }

    @Test
    void aStolenContextTakesItsTlbEntriesWithItAndReloadsOnUse() {
        ActorRef<GruCommand> dev = device(settings(1, 4));
        ProbeMm a = new ProbeMm(kit, 11, memory);
        ProbeMm b = new ProbeMm(kit, 12, memory);
        int ca = a.open(dev);
        a.map(BASE, true);
        a.map(BASE + PAGE, true);
        exec(dev, ca, new DeviceBatch.Builder(2).add(Op.STORE, BASE, 1).add(Op.STORE, BASE + PAGE, 2).build());
        assertThat(inspect(dev, 11).tlbEntries()).isEqualTo(2);

        int cb = b.open(dev);
        GruCommand.Inspection stolen = inspect(dev, 11);
        assertThat(stolen.asid()).isZero();
        assertThat(stolen.tlbEntries()).isZero();
        GruStats s = stats(dev);
        assertThat(s.steals()).isEqualTo(1);
        assertThat(s.entriesFlushed()).isEqualTo(2);
        assertThat(s.loadedContexts()).isEqualTo(1);

        b.map(BASE, true);
        assertThat(exec(dev, cb, DeviceBatch.of(Op.LOAD, BASE, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruCommand.BatchResult again = exec(dev, ca, DeviceBatch.of(Op.LOAD, BASE + PAGE, 0));
        assertThat(again.lastValue()).isEqualTo(2);
        assertThat(stats(dev).steals()).isEqualTo(2);
        assertThat(inspect(dev, 12).tlbEntries()).isZero();
    }

    @Test
    void aHitOnAReusedFrameIsAViolationNotASilentAccess() {
        AtomicInteger i3 = new AtomicInteger();
        CoherenceEvents events = new CoherenceEvents() {
            @Override
            public void violation(Invariant invariant, long agent, String detail) {
                if (invariant == Invariant.I3) {
                    i3.incrementAndGet();
                }
            }
        };
        ActorRef<GruCommand> dev = device(settings(4, 4), events);
        ProbeMm mm = new ProbeMm(kit, 13, memory);
        int ctx = mm.open(dev);
        int pfn = mm.map(BASE, true);
        exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 5));
        // A broken host frees and reuses the frame without telling the device.
        memory.put(pfn);
        int again = memory.allocate(99, 0);
        assertThat(again).isEqualTo(pfn);
        mm.table.set(BASE, Pte.NONE);

        GruCommand.BatchResult r = exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 6));
        assertThat(i3.get()).isEqualTo(1);
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.NEEDS_HOST_FAULT);
        assertThat(memory.read(pfn, 0)).as("the other owner's frame was not written").isZero();
        assertThat(stats(dev).violations()).isEqualTo(1);
    }

    @Test
    void aFencedDeviceDropsEverythingRegistersAgainAndResumes() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 14, memory);
        int ctx = mm.open(dev);
        mm.map(BASE, true);
        exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 5));

        mm.grant.revoke();
        mm.subscriber.tell(new MmuNotification.Fenced(mm.subscription, 14, "ack deadline"));
        MmCommand.Register reg = mm.probe.expectMessageClass(MmCommand.Register.class);
        assertThat(inspect(dev, 14).tlbEntries()).isZero();
        TestProbe<GruCommand.BatchResult> result = kit.createTestProbe();
        dev.tell(new GruCommand.Execute(ctx, DeviceBatch.of(Op.LOAD, BASE, 0), 0, result.getRef()));
        result.expectNoMessage(Duration.ofMillis(100));

        mm.answer(reg, List.of());
        GruCommand.BatchResult r = result.receiveMessage();
        assertThat(r.lastValue()).isEqualTo(5);
        assertThat(stats(dev).fences()).isEqualTo(1);
    }

    @Test
    void releaseFreesTheContextsAndAcks() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 15, memory);
        int ctx = mm.open(dev);
        mm.map(BASE, true);
        exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 5));
        mm.subscriber.tell(new MmuNotification.Release(mm.subscription, 15, 77, mm.acks.getRef()));
        NotifierReply.Ack ack = mm.expectAck(77);
        assertThat(ack.dirty()).containsExactly(Range.ofPages(BASE, 1));
        assertThat(inspect(dev, 15).bound()).isFalse();
        assertThat(exec(dev, ctx, DeviceBatch.of(Op.LOAD, BASE, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.CLOSED);
        assertThat(stats(dev).loadedContexts()).isZero();
    }
    @Test
    void aRangeOverTheCapFlushesTheWholeAsid() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 16, memory);
        int ctx = mm.open(dev);
        long far = BASE + (100L << 20);
        mm.map(BASE, true);
        mm.map(far, true);
        exec(dev, ctx, new DeviceBatch.Builder(2).add(Op.LOAD, BASE, 0).add(Op.LOAD, far, 0).build());

        List<Range> atCap = List.of(Range.ofPages(BASE, 1024));
        long b1 = mm.start(atCap, InvalidationEvent.UNMAP);
        mm.expectAck(b1);
        mm.end(b1, atCap);
        assertThat(inspect(dev, 16).tlbEntries()).as("a 1024-page range flush keeps what is outside").isEqualTo(1);
        assertThat(stats(dev).asidFlushes()).isZero();

        exec(dev, ctx, DeviceBatch.of(Op.LOAD, BASE, 0));
        List<Range> overCap = List.of(Range.ofPages(BASE, 1025));
        long b2 = mm.start(overCap, InvalidationEvent.UNMAP);
        mm.expectAck(b2);
        mm.end(b2, overCap);
        assertThat(inspect(dev, 16).tlbEntries()).as("over the cap the whole ASID goes").isZero();
        GruStats s = stats(dev);
        assertThat(s.asidFlushes()).isEqualTo(1);
        assertThat(s.flushes()).isEqualTo(2);
    }

    @Test
    void aNonBlockableStartIsAckedAtOnceAndAgingFindsNothingYoung() {
        ActorRef<GruCommand> dev = device(settings(4, 4));
        ProbeMm mm = new ProbeMm(kit, 17, memory);
        int ctx = mm.open(dev);
        mm.map(BASE, true);
        exec(dev, ctx, DeviceBatch.of(Op.STORE, BASE, 1));
        List<Range> range = List.of(Range.ofPages(BASE, 1));
        mm.subscriber.tell(new MmuNotification.InvalidateStart(mm.subscription, 17, 5, range,
                InvalidationEvent.UNMAP, false, mm.acks.getRef()));
        assertThat(mm.expectAck(5).dirty()).containsExactly(range.get(0));
        mm.end(5, range);

        mm.subscriber.tell(new MmuNotification.ClearYoung(mm.subscription, 17, 9, range.get(0), mm.acks.getRef()));
        NotifierReply.YoungReport y = mm.acks.expectMessageClass(NotifierReply.YoungReport.class);
        assertThat(y.request()).isEqualTo(9);
        assertThat(y.young()).isFalse();
    }

    @Test
    void anInvalidationOfAStolenContextsMmStillBlocksItsDropIns() {
        ActorRef<GruCommand> dev = device(settings(1, 4));
        ProbeMm a = new ProbeMm(kit, 18, memory);
        ProbeMm b = new ProbeMm(kit, 19, memory);
        int ca = a.open(dev);
        a.map(BASE, true);
        b.open(dev); // steals a's only hardware context
        long flushesBefore = stats(dev).flushes();
        List<Range> range = List.of(Range.ofPages(BASE, 1));
        long batch = a.start(range, InvalidationEvent.UNMAP);
        a.expectAck(batch);
        assertThat(stats(dev).flushes()).as("no ASID loaded: nothing to flush (lazy)").isEqualTo(flushesBefore);

        TestProbe<GruCommand.BatchResult> result = kit.createTestProbe();
        dev.tell(new GruCommand.Execute(ca, DeviceBatch.of(Op.LOAD, BASE, 0), 0, result.getRef()));
        result.expectNoMessage(Duration.ofMillis(100));
        a.end(batch, range);
        assertThat(result.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }
}
