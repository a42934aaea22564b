package io.shadowmmu.gru.device;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.AccessGrant;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pagetable.PageTable;
import io.shadowmmu.hostmm.pagetable.Pte;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A host mm played by the test: a probe receives the device's Register, the test owns the page table the device
 * walks and sends the notifications itself, so every interleaving is chosen, not hoped for.
 */
final class ProbeMm {
    final ActorTestKit kit;
    final long mmId;
    final TestProbe<MmCommand> probe;
    final PageTable table = new PageTable();
    final PhysicalMemory memory;
    final TestProbe<NotifierReply> acks;
    AccessGrant grant = new AccessGrant();
    long subscription;
    /** The device's notification endpoint, from its Register. */
    ActorRef<MmuNotification> subscriber;
    private long batch;

    ProbeMm(ActorTestKit kit, long mmId, PhysicalMemory memory) {
        this.kit = kit;
        this.mmId = mmId;
        this.memory = memory;
        this.probe = kit.createTestProbe(MmCommand.class);
        this.acks = kit.createTestProbe(NotifierReply.class);
    }

    /** Opens a context on {@code device}, answering the device's registration. */
    int open(ActorRef<GruCommand> device) {
        TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
        device.tell(new GruCommand.OpenContext(mmId, probe.getRef(), "proc" + mmId, opened.getRef()));
        MmCommand.Register reg = probe.expectMessageClass(MmCommand.Register.class);
        answer(reg, List.of());
        GruCommand.ContextOpened o = opened.receiveMessage();
        assertThat(o.ok()).as(o.detail()).isTrue();
        return o.context();
    }

    /** Opens another context once the device is already subscribed to this mm. */
    int openAgain(ActorRef<GruCommand> device) {
        TestProbe<GruCommand.ContextOpened> opened = kit.createTestProbe();
        device.tell(new GruCommand.OpenContext(mmId, probe.getRef(), "proc" + mmId, opened.getRef()));
        return opened.receiveMessage().context();
    }

    void answer(MmCommand.Register reg, List<MmCommand.InFlight> inFlight) {
        subscriber = reg.subscriber();
        subscription = mmId * 100 + (++batch);
        grant = new AccessGrant();
        reg.replyTo().tell(new MmCommand.Registered(mmId, subscription, grant, inFlight, table));
    }

    /** Maps a fresh frame at {@code va}, writable or not; returns the pfn. */
    int map(long va, boolean writable) {
        int pfn = memory.allocate(mmId, PhysicalMemory.FLAG_ANON);
        table.set(va, Pte.make(pfn, writable));
        return pfn;
    }

    long start(List<Range> ranges, InvalidationEvent event) {
        long b = ++batch;
        subscriber.tell(new MmuNotification.InvalidateStart(subscription, mmId, b, ranges, event, true,
                acks.getRef()));
        return b;
    }

    void end(long b, List<Range> ranges) {
        subscriber.tell(new MmuNotification.InvalidateEnd(subscription, mmId, b, ranges));
    }

    NotifierReply.Ack expectAck(long b) {
        NotifierReply r = acks.receiveMessage(Duration.ofSeconds(5));
        assertThat(r).isInstanceOf(NotifierReply.Ack.class);
        NotifierReply.Ack a = (NotifierReply.Ack) r;
        assertThat(a.batch()).isEqualTo(b);
        assertThat(a.subscription()).isEqualTo(subscription);
        return a;
    }
}
