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
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The device against a probe standing in for the mm: the test owns the page table and decides exactly when each
 * notification arrives, so the races are deterministic.
 */
class GruDeviceProtocolTest {
    private static final long VA = 0x40_0000L;
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    /** A device bound to a probe mm whose page table the test writes. */
    private static final class Rig {
        final PhysicalMemory memory;
        final PageTable pageTable = new PageTable();
        final AccessGrant grant = new AccessGrant();
        final TestProbe<MmCommand> mm = kit.createTestProbe();
        final ActorRef<GruCommand> device;
        final MmCommand.Register register;
        final int context;

        Rig(Map<String, String> gru) {
            this(gru, GruHost.Violations.NONE_RECORDING);
        }

        Rig(Map<String, String> gru, CoherenceEvents events) {
            GruSettings settings = GruSettings.read(Settings.withOverrides(gru));
            memory = new PhysicalMemory(64, ContentMode.FULL, true, events);
            device = kit.spawn(GruDevice.create("gru0", settings, memory));
            TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
            device.tell(new GruCommand.OpenContext(mm.getRef(), 7, opened.getRef()));
            context = opened.receiveMessage().context();
            register = mm.expectMessageClass(MmCommand.Register.class);
        }

        void registered(List<MmCommand.InFlight> inFlight) {
            register.replyTo().tell(new MmCommand.Registered(7, 1, grant, inFlight, pageTable));
        }

        int map(long va, boolean writable) {
            int pfn = memory.allocate(7, PhysicalMemory.FLAG_ANON);
            pageTable.set(va, Pte.make(pfn, writable) | Pte.DIRTY);
            return pfn;
        }

        void tell(MmuNotification n) {
            register.subscriber().tell(n);
        }

        MmuNotification.InvalidateStart start(long batch, ActorRef<NotifierReply> replyTo, Range... ranges) {
            return new MmuNotification.InvalidateStart(1, 7, batch, List.of(ranges), InvalidationEvent.UNMAP, true,
                    replyTo);
        }

        void execute(Instructions ins, TestProbe<GruCommand.BatchResult> to) {
            device.tell(new GruCommand.Execute(context, ins, 0, to.getRef()));
        }

        GruStats stats() {
            TestProbe<GruStats> p = kit.createTestProbe();
            device.tell(new GruCommand.GetStats(p.getRef()));
            return p.receiveMessage();
        }
    }

    @Test
    void theAckIsSentInsideTheStartHandler() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        rig.map(VA, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        // One probe receives both the ack and the stats asked right after the start: the device replies to them in
        // the order it handled them, so the ack comes first only if it was sent inside the start's handler.
        TestProbe<Object> both = kit.createTestProbe();
        rig.tell(rig.start(1, both.getRef().narrow(), Range.ofPages(VA, 1)));
        rig.device.tell(new GruCommand.GetStats(both.getRef().narrow()));
        Object first = both.receiveMessage();
        assertThat(first).isInstanceOf(NotifierReply.Ack.class);
        GruStats after = (GruStats) both.receiveMessage();
        assertThat(after.flushes()).isEqualTo(1);
        assertThat(after.entriesFlushed()).isEqualTo(1);
    }

    @Test
    void noDropInInsideAnActiveRangeTheInstructionWaitsForTheEnd() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        int oldPfn = rig.map(VA, true);
        rig.memory.write(oldPfn, 0, 111);
        TestProbe<NotifierReply> acks = kit.createTestProbe();
        rig.tell(rig.start(1, acks.getRef(), Range.ofPages(VA, 1)));
        acks.expectMessageClass(NotifierReply.Ack.class);

        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.expectNoMessage(Duration.ofMillis(100));
        GruStats waiting = rig.stats();
        assertThat(waiting.dropins()).isZero();
        assertThat(waiting.dropinWaits()).isEqualTo(1);

        // The host replaces the page while the invalidation is active (a migration, say), then ends it.
        int newPfn = rig.memory.allocate(7, PhysicalMemory.FLAG_ANON);
        rig.memory.write(newPfn, 0, 222);
        rig.pageTable.set(VA, Pte.make(newPfn, true) | Pte.DIRTY);
        rig.tell(new MmuNotification.InvalidateEnd(1, 7, 1, List.of(Range.ofPages(VA, 1))));

        GruCommand.BatchResult r = results.receiveMessage();
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(r.loadSum()).isEqualTo(222);
        assertThat(rig.stats().dropins()).isEqualTo(1);
    }

    @Test
    void anInvalidationInFlightAtRegistrationBlocksDropInsUntilItsEnd() {
        Rig rig = new Rig(Map.of());
        rig.map(VA, true);
        rig.registered(List.of(new MmCommand.InFlight(9, List.of(Range.ofPages(VA, 4)))));
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.expectNoMessage(Duration.ofMillis(100));
        rig.tell(new MmuNotification.InvalidateEnd(1, 7, 9, List.of(Range.ofPages(VA, 4))));
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }

    @Test
    void aDropInOutsideTheActiveRangeProceeds() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        rig.map(VA, true);
        TestProbe<NotifierReply> acks = kit.createTestProbe();
        rig.tell(rig.start(1, acks.getRef(), Range.ofPages(VA + 0x10_0000, 1)));
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }

    @Test
    void flushHandleExhaustionWaitsAndCompletes() {
        Rig rig = new Rig(Map.of("gru.flush-handles", "2"));
        rig.registered(List.of());
        for (int i = 0; i < 5; i++) {
            rig.map(VA + i * 0x1_0000L, true);
        }
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        long[] vas = new long[5];
        for (int i = 0; i < 5; i++) {
            vas[i] = VA + i * 0x1_0000L;
        }
        rig.execute(new Instructions(new byte[5], vas, new long[5], 5), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        TestProbe<NotifierReply> acks = kit.createTestProbe();
        Range[] five = new Range[5];
        for (int i = 0; i < 5; i++) {
            five[i] = Range.ofPages(vas[i], 1);
        }
        rig.tell(rig.start(1, acks.getRef(), five));
        acks.expectMessageClass(NotifierReply.Ack.class);
        GruStats s = rig.stats();
        assertThat(s.flushes()).isEqualTo(5);
        assertThat(s.handleWaits()).isEqualTo(3);
        assertThat(s.entriesFlushed()).isEqualTo(5);
    }

    @Test
    void aStartWhoseFlushesWaitForAHandleIsAckedOnlyAfterEveryFlushRan() {
        List<Long> removed = new CopyOnWriteArrayList<>();
        Rig rig = new Rig(Map.of("gru.flush-handles", "1"), new CoherenceEvents() {
            @Override
            public void translationRemoved(long agent, int cache, long space, long va, int pfn, int generation) {
                removed.add(va);
            }
        });
        rig.registered(List.of());
        long[] vas = {VA, VA + 0x1_0000L, VA + 0x2_0000L};
        for (long va : vas) {
            rig.map(va, true);
        }
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(new Instructions(new byte[3], vas, new long[3], 3), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        // Three ranges on one handle: the first flush runs in the handler, the others each wait for the previous
        // command to complete, and the ack waits for the last of them.
        TestProbe<NotifierReply> acks = kit.createTestProbe();
        rig.tell(rig.start(1, acks.getRef(), Range.ofPages(vas[0], 1), Range.ofPages(vas[1], 1),
                Range.ofPages(vas[2], 1)));
        acks.expectMessageClass(NotifierReply.Ack.class);
        // The device recorded each removal before it sent the ack: every flush ran before the ack.
        assertThat(removed).containsExactlyInAnyOrder(vas[0], vas[1], vas[2]);
        GruStats s = rig.stats();
        assertThat(s.flushes()).isEqualTo(3);
        assertThat(s.handleWaits()).isEqualTo(2);
        assertThat(s.handleQueueMost()).isEqualTo(2);
        assertThat(s.acksDeferred()).isEqualTo(1);

        // The handle is free again: a one-range start is flushed and acked inside its handler, before the stats
        // asked right after it.
        rig.tell(new MmuNotification.InvalidateEnd(1, 7, 1, List.of(Range.ofPages(vas[0], 1),
                Range.ofPages(vas[1], 1), Range.ofPages(vas[2], 1))));
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        TestProbe<Object> both = kit.createTestProbe();
        rig.tell(rig.start(2, both.getRef().narrow(), Range.ofPages(VA, 1)));
        rig.device.tell(new GruCommand.GetStats(both.getRef().narrow()));
        assertThat(both.receiveMessage()).isInstanceOf(NotifierReply.Ack.class);
        GruStats after = (GruStats) both.receiveMessage();
        assertThat(after.acksDeferred()).isEqualTo(1);
        assertThat(after.handleWaits()).isEqualTo(2);
    }

    @Test
    void aRangeWaitingForAHandleRefusesDropInsUntilItsEnd() {
        Rig rig = new Rig(Map.of("gru.flush-handles", "1"));
        rig.registered(List.of());
        long other = VA + 0x1_0000L;
        rig.map(VA, true);
        rig.map(other, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);

        // The second range's flush waits for the handle; the range is active all the same.
        TestProbe<NotifierReply> acks = kit.createTestProbe();
        rig.tell(rig.start(1, acks.getRef(), Range.ofPages(VA, 1), Range.ofPages(other, 1)));
        rig.execute(Instructions.one(Instructions.LOAD, other, 0), results);
        acks.expectMessageClass(NotifierReply.Ack.class);
        results.expectNoMessage(Duration.ofMillis(100));
        assertThat(rig.stats().dropins()).isEqualTo(1);
        rig.tell(new MmuNotification.InvalidateEnd(1, 7, 1, List.of(Range.ofPages(VA, 1),
                Range.ofPages(other, 1))));
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
    }

    @Test
    void storesThroughTheDeviceAreReportedDirtyInTheAck() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        rig.map(VA, true);
        rig.map(VA + 4096, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(new Instructions(new byte[] {Instructions.STORE, Instructions.LOAD},
                new long[] {VA, VA + 4096}, new long[] {5, 0}, 2), results);
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        TestProbe<NotifierReply> acks = kit.createTestProbe();
        rig.tell(rig.start(1, acks.getRef(), Range.ofPages(VA, 2)));
        NotifierReply.Ack ack = acks.expectMessageClass(NotifierReply.Ack.class);
        assertThat(ack.dirty()).containsExactly(Range.ofPages(VA, 1));
    }

    @Test
    void aFencedDeviceDropsEverythingAndRegistersAgain() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        rig.map(VA, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.receiveMessage();

        rig.grant.revoke();
        rig.tell(new MmuNotification.Fenced(1, 7, "deadline"));
        MmCommand.Register again = rig.mm.expectMessageClass(MmCommand.Register.class);
        assertThat(rig.stats().entriesFlushed()).isEqualTo(1);

        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.expectNoMessage(Duration.ofMillis(50)); // waits for the new registration
        again.replyTo().tell(new MmCommand.Registered(7, 2, new AccessGrant(), List.of(), rig.pageTable));
        assertThat(results.receiveMessage().status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(rig.stats().dropins()).isEqualTo(2);
    }

    @Test
    void aReusedFrameOnTheHitPathIsAViolationNotASilentAccess() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        int pfn = rig.map(VA, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.receiveMessage();
        // Broken on purpose: the frame is freed and reused behind the device's back (no invalidation).
        rig.memory.put(pfn);
        int again = rig.memory.allocate(8, PhysicalMemory.FLAG_ANON);
        assertThat(again).isEqualTo(pfn);
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.receiveMessage();
        assertThat(rig.stats().violations()).isEqualTo(1);
    }

    @Test
    void agingReportsPagesWithLiveEntriesYoungAndClearingFlushesThem() {
        Rig rig = new Rig(Map.of());
        rig.registered(List.of());
        rig.map(VA, true);
        TestProbe<GruCommand.BatchResult> results = kit.createTestProbe();
        rig.execute(Instructions.one(Instructions.LOAD, VA, 0), results);
        results.receiveMessage();
        TestProbe<NotifierReply> replies = kit.createTestProbe();
        Range page = Range.ofPages(VA, 1);
        rig.tell(new MmuNotification.TestYoung(1, 7, 1, page, replies.getRef()));
        assertThat(replies.expectMessageClass(NotifierReply.YoungReport.class).young()).isTrue();
        rig.tell(new MmuNotification.ClearYoung(1, 7, 2, page, replies.getRef()));
        assertThat(replies.expectMessageClass(NotifierReply.YoungReport.class).young()).isTrue();
        rig.tell(new MmuNotification.TestYoung(1, 7, 3, page, replies.getRef()));
        assertThat(replies.expectMessageClass(NotifierReply.YoungReport.class).young()).isFalse();
        assertThat(rig.stats().entriesFlushed()).isEqualTo(1);
    }
}
