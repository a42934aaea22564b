package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.NotifierReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A host with small memory and helpers to drive one process and probe subscribers synchronously. */
final class HostFixture {
    final ActorTestKit kit;
    final HostContext host;
    final ActorRef<HostCommand> hostActor;

    HostFixture(ActorTestKit kit, Map<String, String> overrides) {
        this(kit, overrides, CoherenceEvents.NONE);
    }

    HostFixture(ActorTestKit kit, Map<String, String> overrides, CoherenceEvents events) {
        this.kit = kit;
        java.util.HashMap<String, String> o = new java.util.HashMap<>();
        o.put("host.memory", "4m");
        o.putAll(overrides);
        this.host = HostContext.create(Settings.withOverrides(o), events);
        this.hostActor = kit.spawn(HostActor.create(host));
    }

    ActorRef<MmCommand> spawn(String name) {
        TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess(name, p.getRef()));
        return p.receiveMessage().process();
    }

    MemFile createFile(String name, long size) {
        TestProbe<HostCommand.FileCreated> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.CreateFile(name, size, p.getRef()));
        return p.receiveMessage().file();
    }

    long mmapAnon(ActorRef<MmCommand> mm, long length) {
        return mmap(mm, length, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null);
    }

    long mmap(ActorRef<MmCommand> mm, long length, Protection prot, VmaKind kind, MemFile file) {
        MmResult r = call(mm, reply -> new MmCommand.Mmap(0, length, prot, kind, file, 0, reply));
        assertThat(r.ok()).as("mmap: %s", r).isTrue();
        return ((MmResult.Done) r).value();
    }

    long write(ActorRef<MmCommand> mm, long va, long value) {
        return done(call(mm, reply -> new MmCommand.Access(va, true, value, reply)));
    }

    long read(ActorRef<MmCommand> mm, long va) {
        return done(call(mm, reply -> new MmCommand.Access(va, false, 0, reply)));
    }

    MmResult call(ActorRef<MmCommand> mm, java.util.function.Function<ActorRef<MmResult>, MmCommand> msg) {
        TestProbe<MmResult> p = kit.createTestProbe();
        mm.tell(msg.apply(p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(5));
    }

    PageReply.Granted gup(ActorRef<MmCommand> mm, long va, boolean write) {
        TestProbe<PageReply> p = kit.createTestProbe();
        mm.tell(new MmCommand.GetUserPage(va, write, p.getRef()));
        PageReply r = p.receiveMessage(Duration.ofSeconds(5));
        assertThat(r).isInstanceOf(PageReply.Granted.class);
        return (PageReply.Granted) r;
    }

    MmStats stats(ActorRef<MmCommand> mm) {
        TestProbe<MmStats> p = kit.createTestProbe();
        mm.tell(new MmCommand.GetStats(p.getRef()));
        return p.receiveMessage();
    }

    HostCommand.AuditReport audit() {
        TestProbe<HostCommand.AuditReport> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.Audit(p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    /** A subscriber that is a probe: the test decides when (and whether) to acknowledge. */
    Subscriber subscribe(ActorRef<MmCommand> mm, Interest interest, Duration deadline) {
        TestProbe<MmuNotification> probe = kit.createTestProbe();
        TestProbe<MmCommand.Registered> reg = kit.createTestProbe();
        mm.tell(new MmCommand.Register(probe.getRef(), interest, 100, "probe", deadline, reg.getRef()));
        return new Subscriber(probe, reg.receiveMessage());
    }

    Subscriber subscribe(ActorRef<MmCommand> mm) {
        return subscribe(mm, Interest.WHOLE_MM, null);
    }

    static long done(MmResult r) {
        assertThat(r.ok()).as("%s", r).isTrue();
        return ((MmResult.Done) r).value();
    }

    record Subscriber(TestProbe<MmuNotification> probe, MmCommand.Registered registration) {
        MmuNotification.InvalidateStart expectStart() {
            return probe.expectMessageClass(MmuNotification.InvalidateStart.class, Duration.ofSeconds(5));
        }

        MmuNotification.InvalidateEnd expectEnd() {
            return probe.expectMessageClass(MmuNotification.InvalidateEnd.class, Duration.ofSeconds(5));
        }

        void ack(MmuNotification.InvalidateStart s) {
            s.replyTo().tell(NotifierReply.Ack.clean(s.subscription(), s.batch()));
        }

        /** Acks the start and checks the matching end arrives. */
        MmuNotification.InvalidateStart ackNext() {
            MmuNotification.InvalidateStart s = expectStart();
            ack(s);
            MmuNotification.InvalidateEnd e = expectEnd();
            assertThat(e.batch()).isEqualTo(s.batch());
            return s;
        }
    }
}
