package io.shadowmmu.hostmm.host;

import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

/**
 * What every agent of one host shares: its settings, its RAM and the event sink. Passed to actors at creation (all
 * agents of a host live in one JVM, like the kernel and devices of one machine).
 */
public record HostContext(Settings settings, PhysicalMemory memory, CoherenceEvents events) {
    public static HostContext create(Settings settings, CoherenceEvents events) {
        return new HostContext(settings, new PhysicalMemory(settings.host(), events), events);
    }
}
