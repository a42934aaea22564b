package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The notifier protocol against probe subscribers, under both available delivery strategies. */
class MmNotifierTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static HostFixture host(String strategy) {
        return new HostFixture(kit.testKit(), Map.of("notifier.strategy", strategy, "notifier.ack-deadline", "10s"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range"})
    void noFrameIsFreedBeforeEverySubscriberAcked(String strategy) {
        HostFixture h = host(strategy);
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 16 * 4096);
        for (int i = 0; i < 16; i++) {
            h.write(mm, va + i * 4096L, i + 1);
        }
        HostFixture.Subscriber a = h.subscribe(mm);
        HostFixture.Subscriber b = h.subscribe(mm);
        long freeBefore = h.host.memory().freeFrames();

        TestProbe<MmResult> reply = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 16 * 4096, reply.getRef()));
        MmuNotification.InvalidateStart sa = a.expectStart();
        MmuNotification.InvalidateStart sb = b.expectStart();
        assertThat(sa.event()).isEqualTo(InvalidationEvent.UNMAP);
        assertThat(sa.ranges()).containsExactly(new Range(va, va + 16 * 4096));

        a.ack(sa);
        reply.expectNoMessage(Duration.ofMillis(200));
        assertThat(h.host.memory().freeFrames()).as("frames freed before the second ack").isEqualTo(freeBefore);

        b.ack(sb);
        assertThat(reply.receiveMessage().ok()).isTrue();
        assertThat(h.host.memory().freeFrames()).isEqualTo(freeBefore + 16);
        assertThat(a.expectEnd().batch()).isEqualTo(sa.batch());
        assertThat(b.expectEnd().batch()).isEqualTo(sb.batch());
        assertThat(h.audit().problems()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range", "two_phase", "per_page", "per_pt_page"})
    void aFaultDuringAnInFlightInvalidationNeverReturnsTheRevokedFrame(String strategy) {
        HostFixture h = host(strategy);
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 42);
        PageReply.Granted before = h.gup(mm, va, false);
        HostFixture.Subscriber s = h.subscribe(mm);

        TestProbe<MmResult> dontneed = kit.createTestProbe();
        mm.tell(new MmCommand.MadviseDontneed(va, 4096, dontneed.getRef()));
        MmuNotification.InvalidateStart start = s.expectStart();

        TestProbe<PageReply> fault = kit.createTestProbe();
        mm.tell(new MmCommand.GetUserPage(va, false, fault.getRef()));
        fault.expectNoMessage(Duration.ofMillis(200));

        s.ack(start);
        PageReply after = fault.receiveMessage();
        assertThat(after).isInstanceOf(PageReply.Granted.class);
        PageReply.Granted g = (PageReply.Granted) after;
        assertThat(g.pfn() == before.pfn() && g.generation() == before.generation())
                .as("the revoked frame (pfn %d gen %d) came back", before.pfn(), before.generation()).isFalse();
        assertThat(h.read(mm, va)).as("DONTNEED zero-fills").isZero();
        assertThat(dontneed.receiveMessage().ok()).isTrue();
    }

    @Test
    void registrationDuringAnInFlightInvalidationSeesIt() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 8 * 4096);
        h.write(mm, va, 1);
        HostFixture.Subscriber first = h.subscribe(mm);

        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.MadviseDontneed(va, 8 * 4096, op.getRef()));
        MmuNotification.InvalidateStart start = first.expectStart();

        HostFixture.Subscriber late = h.subscribe(mm);
        assertThat(late.registration().inFlight()).hasSize(1);
        assertThat(late.registration().inFlight().get(0).batch()).isEqualTo(start.batch());
        assertThat(late.registration().inFlight().get(0).ranges()).containsExactlyElementsOf(start.ranges());

        first.ack(start);
        assertThat(op.receiveMessage().ok()).isTrue();
        assertThat(late.expectEnd().batch()).as("the newcomer gets the end of what it was handed")
                .isEqualTo(start.batch());
    }

    @Test
    void intervalSubscribersHearOnlyAboutTheirInterval() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 64 * 4096);
        for (int i = 0; i < 64; i++) {
            h.write(mm, va + i * 4096L, i);
        }
        HostFixture.Subscriber low = h.subscribe(mm, Interest.interval(va, va + 8 * 4096), null);
        HostFixture.Subscriber high = h.subscribe(mm, Interest.interval(va + 32 * 4096, va + 64 * 4096), null);
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 16 * 4096, op.getRef()));
        MmuNotification.InvalidateStart s = low.expectStart();
        assertThat(s.ranges()).containsExactly(new Range(va, va + 8 * 4096));
        low.ack(s);
        assertThat(op.receiveMessage().ok()).isTrue();
        high.probe().expectNoMessage(Duration.ofMillis(100));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range", "two_phase", "per_page", "per_pt_page"})
    void mprotectToReadOnlyNotifiesProtectionAndKeepsTheFrame(String strategy) {
        HostFixture h = host(strategy);
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4 * 4096);
        h.write(mm, va, 7);
        PageReply.Granted before = h.gup(mm, va, true);
        HostFixture.Subscriber s = h.subscribe(mm);

        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Mprotect(va, 4 * 4096, Protection.READ, op.getRef()));
        MmuNotification.InvalidateStart start = s.expectStart();
        assertThat(start.event()).isEqualTo(InvalidationEvent.PROTECTION_VMA);
        s.ack(start);
        assertThat(op.receiveMessage().ok()).isTrue();

        PageReply.Granted after = h.gup(mm, va, false);
        assertThat(after.pfn()).isEqualTo(before.pfn());
        assertThat(after.generation()).isEqualTo(before.generation());
        assertThat(after.writable()).isFalse();
        assertThat(h.read(mm, va)).isEqualTo(7);
        MmResult denied = h.call(mm, r -> new MmCommand.Access(va, true, 8, r));
        assertThat(denied).isInstanceOf(MmResult.Failed.class);
        assertThat(((MmResult.Failed) denied).errno()).isEqualTo(Errno.SEGV_ACCERR);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range", "two_phase", "per_page", "per_pt_page"})
    void forkWriteProtectsAndNotifiesTheParentRangeThenCowBreaksNotifyToo(String strategy) {
        HostFixture h = host(strategy);
        ActorRef<MmCommand> parent = h.spawn("parent");
        long va = h.mmapAnon(parent, 4 * 4096);
        h.write(parent, va, 11);
        HostFixture.Subscriber s = h.subscribe(parent);

        TestProbe<MmCommand.ForkResult> forked = kit.createTestProbe();
        parent.tell(new MmCommand.Fork("child", forked.getRef()));
        MmuNotification.InvalidateStart wp = s.expectStart();
        assertThat(wp.event()).isEqualTo(InvalidationEvent.PROTECTION_PAGE);
        assertThat(Range.anyContains(wp.ranges(), va)).isTrue();
        forked.expectNoMessage(Duration.ofMillis(100));
        s.ack(wp);
        s.expectEnd();
        MmCommand.ForkResult child = forked.receiveMessage();
        assertThat(child.status().ok()).isTrue();

        assertThat(h.read(child.child(), va)).isEqualTo(11);
        // The parent's write breaks COW: the shared frame is replaced, so the subscriber must hear about it.
        TestProbe<MmResult> w = kit.createTestProbe();
        parent.tell(new MmCommand.Access(va, true, 12, w.getRef()));
        MmuNotification.InvalidateStart cow = s.expectStart();
        assertThat(cow.event()).isEqualTo(InvalidationEvent.CLEAR);
        assertThat(cow.ranges()).containsExactly(new Range(va, va + 4096));
        s.ack(cow);
        assertThat(w.receiveMessage().ok()).isTrue();
        assertThat(h.read(parent, va)).isEqualTo(12);
        assertThat(h.read(child.child(), va)).as("the child keeps its copy").isEqualTo(11);
        assertThat(h.stats(parent).faults().cowCopy()).isEqualTo(1);
    }

    @Test
    void truncateNotifiesEveryMmThatMapsTheFile() {
        HostFixture h = host("gather");
        MemFile file = h.createFile("data", 8 * 4096);
        ActorRef<MmCommand> p1 = h.spawn("p1");
        ActorRef<MmCommand> p2 = h.spawn("p2");
        long v1 = h.mmap(p1, 8 * 4096, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        long v2 = h.mmap(p2, 8 * 4096, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        h.write(p1, v1 + 5 * 4096, 55);
        assertThat(h.read(p2, v2 + 5 * 4096)).as("shared file page").isEqualTo(55);
        HostFixture.Subscriber s1 = h.subscribe(p1);
        HostFixture.Subscriber s2 = h.subscribe(p2);

        TestProbe<MmResult> t = kit.createTestProbe();
        h.hostActor.tell(new HostCommand.Truncate(file, 2 * 4096, t.getRef()));
        MmuNotification.InvalidateStart a = s1.expectStart();
        MmuNotification.InvalidateStart b = s2.expectStart();
        assertThat(a.event()).isEqualTo(InvalidationEvent.CLEAR);
        assertThat(Range.anyContains(a.ranges(), v1 + 5 * 4096)).isTrue();
        assertThat(Range.anyContains(b.ranges(), v2 + 5 * 4096)).isTrue();
        t.expectNoMessage(Duration.ofMillis(100));
        s1.ack(a);
        s2.ack(b);
        assertThat(t.receiveMessage().ok()).isTrue();
        MmResult beyond = h.call(p1, r -> new MmCommand.Access(v1 + 5 * 4096, false, 0, r));
        assertThat(((MmResult.Failed) beyond).errno()).isEqualTo(Errno.SIGBUS);
        assertThat(h.read(p2, v2 + 4096)).as("pages below the new size stay").isZero();
    }

    @Test
    void exitSendsReleaseAndFreesEverything() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 32 * 4096);
        for (int i = 0; i < 32; i++) {
            h.write(mm, va + i * 4096L, i);
        }
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmResult> exit = kit.createTestProbe();
        mm.tell(new MmCommand.Exit(exit.getRef()));
        MmuNotification.Release release = s.probe().expectMessageClass(MmuNotification.Release.class);
        exit.expectNoMessage(Duration.ofMillis(100));
        release.replyTo().tell(NotifierReply.Ack.clean(release.subscription(), release.batch()));
        assertThat(exit.receiveMessage().ok()).isTrue();
        kit.createTestProbe().expectTerminated(mm, Duration.ofSeconds(5));
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames());
    }

    @Test
    void aDeadlineMissFencesTheSubscriberAndTheBatchProceeds() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 1);
        HostFixture.Subscriber slow = h.subscribe(mm, Interest.WHOLE_MM, Duration.ofMillis(100));
        long freeBefore = h.host.memory().freeFrames();
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, op.getRef()));
        slow.expectStart();
        MmuNotification.Fenced fenced = slow.probe().expectMessageClass(MmuNotification.Fenced.class,
                Duration.ofSeconds(5));
        assertThat(fenced.reason()).contains("no ack");
        assertThat(op.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(slow.registration().grant().isRevoked()).isTrue();
        assertThat(h.host.memory().freeFrames()).isEqualTo(freeBefore + 1);
        MmStats stats = h.stats(mm);
        assertThat(stats.notifier().fences()).isEqualTo(1);
        assertThat(stats.subscribers()).isZero();
    }

    @Test
    void aFencedSubscriberInsideItsAccessSectionKeepsItsFramesAliveUntilItLeaves() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 1);
        HostFixture.Subscriber slow = h.subscribe(mm, Interest.WHOLE_MM, Duration.ofMillis(50));
        assertThat(slow.registration().grant().enter()).isTrue();
        long freeBefore = h.host.memory().freeFrames();
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, op.getRef()));
        slow.expectStart();
        slow.probe().expectMessageClass(MmuNotification.Fenced.class, Duration.ofSeconds(5));
        op.expectNoMessage(Duration.ofMillis(100));
        assertThat(h.host.memory().freeFrames()).isEqualTo(freeBefore);
        slow.registration().grant().exit();
        assertThat(op.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(h.host.memory().freeFrames()).isEqualTo(freeBefore + 1);
        assertThat(slow.registration().grant().enter()).as("a revoked grant admits nobody").isFalse();
    }

    @Test
    void aSubscriberThatDiesCountsAsAcked() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 1);
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, op.getRef()));
        s.expectStart();
        s.probe().stop();
        assertThat(op.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(h.stats(mm).notifier().deaths()).isEqualTo(1);
    }

    @Test
    void anMmWithNoSubscriberTakesNoNotifierPath() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 64 * 4096);
        for (int i = 0; i < 64; i++) {
            h.write(mm, va + i * 4096L, i);
        }
        HostFixture.done(h.call(mm, r -> new MmCommand.Munmap(va, 64 * 4096, r)));
        MmStats stats = h.stats(mm);
        assertThat(stats.notifier().batches()).isZero();
        assertThat(stats.notifier().messages()).isZero();
        assertThat(stats.notifier().ptesCleared()).isEqualTo(64);
    }

    @Test
    void aNonBlockableStartAnsweredWithNackIsEndedAndRetried() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4 * 4096);
        for (int i = 0; i < 4; i++) {
            h.write(mm, va + i * 4096L, i + 1);
        }
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmResult> reap = kit.createTestProbe();
        mm.tell(new MmCommand.OomReap(reap.getRef()));
        MmuNotification.InvalidateStart first = s.expectStart();
        assertThat(first.blockable()).isFalse();
        first.replyTo().tell(new NotifierReply.Nack(first.subscription(), first.batch()));
        assertThat(s.expectEnd().batch()).as("end is paired with start even after a Nack").isEqualTo(first.batch());
        MmuNotification.InvalidateStart retry = s.expectStart();
        assertThat(retry.batch()).isNotEqualTo(first.batch());
        s.ack(retry);
        s.expectEnd();
        assertThat(HostFixture.done(reap.receiveMessage())).isEqualTo(4);
        assertThat(h.stats(mm).notifier().nacks()).isEqualTo(1);
    }

    @Test
    void rangeDeliveryHoldsEveryOtherOperationUntilTheSubscribersAcked() {
        HostFixture h = host("range");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 2 * 4096);
        h.write(mm, va, 1);
        h.write(mm, va + 4096, 2);
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.MadviseDontneed(va, 4096, op.getRef()));
        MmuNotification.InvalidateStart start = s.expectStart();
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames() - 2);
        TestProbe<MmResult> other = kit.createTestProbe();
        mm.tell(new MmCommand.Access(va + 4096, false, 0, other.getRef()));
        other.expectNoMessage(Duration.ofMillis(150));
        s.ack(start);
        assertThat(op.receiveMessage().ok()).isTrue();
        assertThat(HostFixture.done(other.receiveMessage())).isEqualTo(2);
    }

    @Test
    void aSecondarysDirtyRangesMarkTheFrameDirty() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.read(mm, va);
        PageReply.Granted g = h.gup(mm, va, false);
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Mprotect(va, 4096, Protection.READ, op.getRef()));
        MmuNotification.InvalidateStart start = s.expectStart();
        assertThat(h.host.memory().hasFlag(g.pfn(), io.shadowmmu.hostmm.phys.PhysicalMemory.FLAG_DIRTY)).isFalse();
        start.replyTo().tell(new NotifierReply.Ack(start.subscription(), start.batch(),
                List.of(new Range(va, va + 4096))));
        assertThat(op.receiveMessage().ok()).isTrue();
        assertThat(h.host.memory().hasFlag(g.pfn(), io.shadowmmu.hostmm.phys.PhysicalMemory.FLAG_DIRTY)).isTrue();
    }

    /**
     * Two batches over one page in flight at once (GATHER lets a later operation change the page before the earlier
     * batch is acked): the secondary reports its write in the ack to the first batch, by which time the frame has
     * left the PTE and sits in the second batch's gather. The frame must still become dirty, or reclaim would drop
     * the secondary's write from the page cache (I6).
     */
    @Test
    void aDirtyRangeReportedLateReachesTheFrameALaterBatchHolds() {
        HostFixture h = host("gather");
        MemFile file = h.createFile("guest-ram", 4096);
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmap(mm, 4096, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        h.read(mm, va);
        // A read fault that the secondary maps writable (the host PTE is): its writes leave no host dirty bit.
        PageReply.Granted g = h.gup(mm, va, false);
        assertThat(g.writable()).isTrue();
        HostFixture.Subscriber s = h.subscribe(mm);

        TestProbe<MmResult> protect = kit.createTestProbe();
        mm.tell(new MmCommand.Mprotect(va, 4096, Protection.READ, protect.getRef()));
        MmuNotification.InvalidateStart first = s.expectStart();
        TestProbe<MmResult> unmap = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, unmap.getRef()));
        MmuNotification.InvalidateStart second = s.expectStart();

        first.replyTo().tell(new NotifierReply.Ack(first.subscription(), first.batch(),
                List.of(new Range(va, va + 4096))));
        s.ack(second);
        assertThat(protect.receiveMessage().ok()).isTrue();
        assertThat(unmap.receiveMessage().ok()).isTrue();
        assertThat(file.peek(0)).as("the page stays in the page cache").isEqualTo(g.pfn());
        assertThat(h.host.memory().hasFlag(g.pfn(), io.shadowmmu.hostmm.phys.PhysicalMemory.FLAG_DIRTY))
                .as("the secondary's write marks the frame dirty").isTrue();
    }

    /**
     * A fenced subscriber never reports what it wrote, so the host assumes it wrote everything it could have: the
     * frames of the batch it failed to ack and every frame still mapped writable in its interest become dirty.
     */
    @Test
    void aFencedSubscribersWritableFramesAreAssumedWritten() {
        HostFixture h = host("gather");
        MemFile file = h.createFile("guest-ram", 2 * 4096);
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmap(mm, 2 * 4096, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        h.read(mm, va);
        h.read(mm, va + 4096);
        PageReply.Granted unmapped = h.gup(mm, va, false);
        PageReply.Granted kept = h.gup(mm, va + 4096, false);
        HostFixture.Subscriber slow = h.subscribe(mm, Interest.WHOLE_MM, Duration.ofMillis(100));

        TestProbe<MmResult> op = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4096, op.getRef()));
        slow.expectStart();
        slow.probe().expectMessageClass(MmuNotification.Fenced.class, Duration.ofSeconds(5));
        assertThat(op.receiveMessage(Duration.ofSeconds(5)).ok()).isTrue();
        assertThat(file.peek(0)).isEqualTo(unmapped.pfn());
        assertThat(h.host.memory().hasFlag(unmapped.pfn(), io.shadowmmu.hostmm.phys.PhysicalMemory.FLAG_DIRTY))
                .as("the frame of the batch it did not ack").isTrue();
        assertThat(h.host.memory().hasFlag(kept.pfn(), io.shadowmmu.hostmm.phys.PhysicalMemory.FLAG_DIRTY))
                .as("a frame it still mapped writable").isTrue();
    }

    @Test
    void agingAsksTheHostPteAndEverySubscriber() {
        HostFixture h = host("gather");
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4096);
        h.write(mm, va, 1);
        HostFixture.Subscriber s = h.subscribe(mm);
        TestProbe<MmCommand.AgeResult> age = kit.createTestProbe();
        Range page = new Range(va, va + 4096);

        mm.tell(new MmCommand.Age(page, true, age.getRef()));
        MmuNotification.ClearYoung q = s.probe().expectMessageClass(MmuNotification.ClearYoung.class);
        q.replyTo().tell(new NotifierReply.YoungReport(q.subscription(), q.request(), true));
        MmCommand.AgeResult first = age.receiveMessage();
        assertThat(first.hostYoung()).isTrue();
        assertThat(first.secondariesYoung()).isEqualTo(1);

        mm.tell(new MmCommand.Age(page, false, age.getRef()));
        MmuNotification.TestYoung t = s.probe().expectMessageClass(MmuNotification.TestYoung.class);
        t.replyTo().tell(new NotifierReply.YoungReport(t.subscription(), t.request(), false));
        MmCommand.AgeResult second = age.receiveMessage();
        assertThat(second.hostYoung()).as("cleared by the first query").isFalse();
        assertThat(second.young()).isFalse();
    }

    /** Messages for an 8 MiB munmap of populated memory: pages, page-table pages, or one, by strategy. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"per_page, 2048", "per_pt_page, 4", "range, 1", "gather, 1",
        "two_phase, 1"})
    void startsPerOperationFollowTheStrategy(String strategy, int expectedStarts) {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("notifier.strategy", strategy, "host.memory", "16m"));
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 8L << 20);
        for (long off = 0; off < (8L << 20); off += 4096) {
            h.write(mm, va + off, off);
        }
        kit.spawn(AutoAckSubscriber.create(mm, Duration.ZERO, null));
        kit.createTestProbe().awaitAssert(() -> {
            assertThat(h.stats(mm).subscribers()).isEqualTo(1);
            return null;
        });
        HostFixture.done(h.call(mm, r -> new MmCommand.Munmap(va, 8L << 20, r)));
        MmStats stats = h.stats(mm);
        long starts = stats.notifier().acks();
        assertThat(starts).as("acks, one per start").isEqualTo(expectedStarts);
        assertThat(stats.notifier().messages()).as("each start paired with an end").isEqualTo(2L * expectedStarts);
        assertThat(stats.notifier().invalidations()).isEqualTo(1);
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames());
    }
}
