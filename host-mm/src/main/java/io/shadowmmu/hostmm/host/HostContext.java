package io.shadowmmu.hostmm.host;

import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;
import io.shadowmmu.hostmm.pressure.IsolatedFrames;
import io.shadowmmu.hostmm.rmap.ReverseMap;
import io.shadowmmu.hostmm.swap.SwapStore;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What every agent of one host shares: its settings, its RAM, the event sink, and the kernel-wide tables that
 * reclaim, migration and KSM walk without messages: every live file (named or shmem), the reverse map, the swap
 * device, the process table, and the frames a pressure daemon holds while it works on them. All agents of a host live in one JVM, like the kernel and devices of one machine.
 */
public record HostContext(Settings settings, PhysicalMemory memory, CoherenceEvents events, Set<MemFile> files,
                          ReverseMap rmap, SwapStore swap, Map<Long, ActorRef<MmCommand>> processes,
                          IsolatedFrames isolated) {
    public static HostContext create(Settings settings, CoherenceEvents events) {
        PhysicalMemory memory = new PhysicalMemory(settings.host(), events);
        return new HostContext(settings, memory, events, ConcurrentHashMap.newKeySet(),
                new ReverseMap(memory.totalFrames()), new SwapStore(), new ConcurrentHashMap<>(),
                new IsolatedFrames(memory));
    }

    /** The live file with this id, or null. */
    public MemFile file(long id) {
        for (MemFile f : files) {
            if (f.id() == id) {
                return f;
            }
        }
        return null;
    }
}
