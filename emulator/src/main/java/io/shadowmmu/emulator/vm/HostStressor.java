package io.shadowmmu.emulator.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.guest.vm.GuestVm;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.scenario.VmHostStressor;

/**
 * The host side of a VM scenario: the scenario module's {@link VmHostStressor} (ballooned pages discarded, remapped
 * and write-protected; live pages moved and paged out; VMM forks), with the VM scenarios' settings.
 */
final class HostStressor {

    interface Command {
    }

    enum Stop implements Command {
        INSTANCE
    }

    /** What one stressor did; {@code moves} and {@code pageouts} count runs of live pages. */
    record Done(int vm, long rounds, long dontneeds, long remaps, long protects, long forks, long failures,
                long moves, long pageouts) {
        static Done of(VmHostStressor.Done d) {
            return new Done(d.vm(), d.rounds(), d.dontneeds(), d.remaps(), d.protects(), d.forks(), d.failures(),
                    d.moves(), d.pageouts());
        }
    }

    private HostStressor() {
    }

    static Behavior<Command> create(int index, ActorRef<GuestVm.Command> vm, ActorRef<MmCommand> vmm, long hvaBase,
                                    VmParams params, long seed, ActorRef<Done> reportTo) {
        return Behaviors.setup(ctx -> {
            ActorRef<VmHostStressor.Done> done = ctx.messageAdapter(VmHostStressor.Done.class, Done::of);
            ActorRef<VmHostStressor.Command> stressor = ctx.spawn(VmHostStressor.create(index, vm, vmm, hvaBase,
                    params.guestMemoryBytes(), params.stressSpec(new io.shadowmmu.scenario.StressSpec()),
                    seed, done), "stressor");
            return Behaviors.receive(Object.class)
                    .onMessageEquals(Stop.INSTANCE, () -> {
                        stressor.tell(VmHostStressor.Stop.INSTANCE);
                        return Behaviors.same();
                    })
                    .onMessage(Done.class, d -> {
                        reportTo.tell(d);
                        return Behaviors.stopped(); // the stressor reports once, as it stops
                    })
                    .build();
        }).narrow();
    }
}
