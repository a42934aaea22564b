package io.shadowmmu.guest.testing;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.guest.vm.GuestSettings;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.hostmm.events.AgentIds;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;

import java.time.Duration;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** A host, its VMM process with guest RAM mapped, and a GuestVm with kvm-shadow's KvmMmu on it. */
public record HostMachine(ActorTestKit kit, ActorRef<GuestVm.Command> vm, ActorRef<MmCommand> vmm, long hvaBase,
                          RecordingEvents events) {

    public static HostMachine start(ActorTestKit kit, boolean tdp, Map<String, String> overrides) {
        RecordingEvents events = new RecordingEvents();
        Settings settings = Settings.withOverrides(overrides);
        HostContext host = HostContext.create(settings, events);
        GuestSettings guest = GuestSettings.from(settings);
        ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));
        TestProbe<HostCommand.ProcessSpawned> spawned = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess("qemu", spawned.ref()));
        HostCommand.ProcessSpawned qemu = spawned.receiveMessage();
        long hvaBase = done(call(kit, qemu.process(), r -> new MmCommand.Mmap(0, guest.memoryBytes(),
                Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0, r)));
        ActorRef<GuestVm.Command> vm = kit.spawn(GuestVm.onHost(new GuestVm.HostVm("vm0", AgentIds.next(), host,
                guest, qemu.process(), qemu.mm(), hvaBase, tdp, 0)));
        return new HostMachine(kit, vm, qemu.process(), hvaBase, events);
    }

    public MmResult call(Function<ActorRef<MmResult>, MmCommand> msg) {
        return call(kit, vmm, msg);
    }

    public static MmResult call(ActorTestKit kit, ActorRef<MmCommand> mm,
                                Function<ActorRef<MmResult>, MmCommand> msg) {
        TestProbe<MmResult> p = kit.createTestProbe();
        mm.tell(msg.apply(p.ref()));
        return p.receiveMessage(Duration.ofSeconds(10));
    }

    public static long done(MmResult r) {
        assertThat(r.ok()).as("%s", r).isTrue();
        return ((MmResult.Done) r).value();
    }
}
