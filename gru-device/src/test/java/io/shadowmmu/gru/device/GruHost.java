package io.shadowmmu.gru.device;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.gru.GruSettings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.Invariant;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** A real host (HostActor + MmActors) with helpers to drive a process and a device synchronously from a test. */
final class GruHost {
    /** Records violations agents report themselves (the hit-path generation check). */
    static final class Violations implements CoherenceEvents {
        static final Violations NONE_RECORDING = new Violations();
        final List<String> seen = new CopyOnWriteArrayList<>();

        @Override
        public void violation(Invariant invariant, long agent, String detail) {
            seen.add(invariant + " " + detail);
        }
    }

    final ActorTestKit kit;
    final Settings settings;
    final HostContext host;
    final ActorRef<HostCommand> hostActor;
    final Violations violations = new Violations();

    GruHost(ActorTestKit kit, Map<String, String> overrides) {
        this.kit = kit;
        Map<String, String> o = new HashMap<>();
        o.put("host.memory", "8m");
        o.putAll(overrides);
        this.settings = Settings.withOverrides(o);
        this.host = HostContext.create(settings, violations);
        this.hostActor = kit.spawn(HostActor.create(host));
    }

    GruSettings gru() {
        return GruSettings.read(settings);
    }

    ActorRef<GruCommand> device(String name) {
        return kit.spawn(GruDevice.create(name, gru(), host.memory()));
    }

    HostCommand.ProcessSpawned spawn(String name) {
        TestProbe<HostCommand.ProcessSpawned> p = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess(name, p.getRef()));
        return p.receiveMessage();
    }

    long mmapAnon(ActorRef<MmCommand> mm, long length) {
        return done(call(mm, r -> new MmCommand.Mmap(0, length, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null,
                0, r)));
    }

    MmResult call(ActorRef<MmCommand> mm, java.util.function.Function<ActorRef<MmResult>, MmCommand> msg) {
        TestProbe<MmResult> p = kit.createTestProbe();
        mm.tell(msg.apply(p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(20));
    }

    long read(ActorRef<MmCommand> mm, long va) {
        return done(call(mm, r -> new MmCommand.Access(va, false, 0, r)));
    }

    /** Touches every page of [start, start+length) with a write, all requests in flight at once. */
    void populate(ActorRef<MmCommand> mm, long start, long length) {
        TestProbe<MmResult> p = kit.createTestProbe();
        int pages = (int) (length / 4096);
        for (int i = 0; i < pages; i++) {
            mm.tell(new MmCommand.Access(start + i * 4096L, true, i + 1, p.getRef()));
        }
        for (int i = 0; i < pages; i++) {
            assertThat(p.receiveMessage(Duration.ofSeconds(20)).ok()).isTrue();
        }
    }

    PageReply gup(ActorRef<MmCommand> mm, long va, boolean write) {
        TestProbe<PageReply> p = kit.createTestProbe();
        mm.tell(new MmCommand.GetUserPage(va, write, p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(5));
    }

    int open(ActorRef<GruCommand> device, HostCommand.ProcessSpawned proc) {
        TestProbe<GruCommand.ContextOpened> p = kit.createTestProbe();
        device.tell(new GruCommand.OpenContext(proc.process(), proc.mm(), p.getRef()));
        GruCommand.ContextOpened o = p.receiveMessage();
        assertThat(o.context()).isPositive();
        return o.context();
    }

    GruCommand.BatchResult exec(ActorRef<GruCommand> device, int context, Instructions ins) {
        TestProbe<GruCommand.BatchResult> p = kit.createTestProbe();
        device.tell(new GruCommand.Execute(context, ins, 0, p.getRef()));
        return p.receiveMessage(Duration.ofSeconds(5));
    }

    GruStats stats(ActorRef<GruCommand> device) {
        TestProbe<GruStats> p = kit.createTestProbe();
        device.tell(new GruCommand.GetStats(p.getRef()));
        return p.receiveMessage();
    }

    static long done(MmResult r) {
        assertThat(r.ok()).as("%s", r).isTrue();
        return ((MmResult.Done) r).value();
    }
}
