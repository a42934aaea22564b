package io.shadowmmu.hostmm.host;

import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What every agent of one host shares: its settings, its RAM and the event sink. Passed to actors at creation (all
 * agents of a host live in one JVM, like the kernel and devices of one machine). {@code files} holds every live
 * file, named or shmem, so audits can see all page caches.
 */
public record HostContext(Settings settings, PhysicalMemory memory, CoherenceEvents events, Set<MemFile> files) {
    public static HostContext create(Settings settings, CoherenceEvents events) {
        return new HostContext(settings, new PhysicalMemory(settings.host(), events), events,
                ConcurrentHashMap.newKeySet());
    }
}
