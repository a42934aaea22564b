package io.shadowmmu.guest.kvm;

import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.events.ForwardingEvents;

/**
 * Forwards every event to the real sink and remembers the agent id KvmMmu names for itself ({@code "kvm <name>"}),
 * so the vCPUs can report their TLB entries under KVM's agent: a fence of KVM then revokes them with KVM's sptes.
 * KvmMmu keeps its id private; it announces it once, through {@link #agentNamed}, when it starts.
 */
public final class KvmAgentCapture extends ForwardingEvents {
    private final String kvmName;
    private volatile long kvmAgent = -1;

    public KvmAgentCapture(CoherenceEvents sink, String kvmName) {
        super(sink);
        this.kvmName = kvmName;
    }

    /** KVM's agent id, or -1 before KvmMmu started. */
    public long kvmAgent() {
        return kvmAgent;
    }

    @Override
    public void agentNamed(long agent, String name) {
        if (kvmAgent < 0 && ("kvm " + kvmName).equals(name)) {
            kvmAgent = agent;
        }
        sink.agentNamed(agent, name);
    }
}
