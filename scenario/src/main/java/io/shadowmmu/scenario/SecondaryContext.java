package io.shadowmmu.scenario;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

/**
 * What a scenario hands a caller's secondary MMU ({@link SecondarySpec}).
 *
 * @param name   the secondary's name in the scenario (also its actor's)
 * @param agent  its oracle agent id, named and bound to {@code mmId} (I2): report every translation under it
 * @param mm     the host process to register with ({@code MmCommand.Register}) and fault from
 *               ({@code MmCommand.GetUserPage})
 * @param mmId   that process's mm id (the space of its host PTEs)
 * @param region the anonymous memory mapped for it, read-write
 * @param memory the host's RAM, for reading through a granted frame
 * @param events the run's event sink (the oracle, or a no-op sink)
 * @param seed   a seed of its own, derived from the scenario's
 * @param done   tell it once the work is done; the run waits for every secondary
 */
public record SecondaryContext(String name, long agent, ActorRef<MmCommand> mm, long mmId, Range region,
                               PhysicalMemory memory, CoherenceEvents events, long seed,
                               ActorRef<SecondaryDone> done) {
}
