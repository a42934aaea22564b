package io.shadowmmu.kvm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Remote TLB flush rounds of one VM ({@code kvm_flush_remote_tlbs}) and the vCPUs they reach. A round asks every
 * connected vCPU for a full flush and completes when each answered or stopped. A request arriving while a round is in
 * flight waits for the next round, which every request queued meanwhile shares. It also counts the sptes removed and
 * how many of those a completed round covers ({@code tlbs_dirty}), so an invalidation that zapped nothing knows
 * whether it must still wait (D21).
 */
final class RemoteFlush {

    /** A connected vCPU's flush endpoint stopped: it holds no translation any more and will never answer a flush. */
    record VcpuGone(int vcpu, ActorRef<KvmCommand.FlushTlb> flushes) implements KvmCommand.Internal {
    }

    private final ActorContext<KvmCommand> context;
    private final String name;
    private final Map<Integer, ActorRef<KvmCommand.FlushTlb>> vcpus = new HashMap<>();
    private long flushId;
    private final Set<Integer> awaiting = new HashSet<>();
    private List<Runnable> waiters = new ArrayList<>();
    private List<Runnable> queued = new ArrayList<>();
    private boolean inFlight;
    private long zapsIssued;
    private long zapsFlushed;
    private long roundCovers;
    private long rounds;
    private long coalesced;

    RemoteFlush(ActorContext<KvmCommand> context, String name) {
        this.context = context;
        this.name = name;
    }

    /** Completed rounds. */
    long rounds() {
        return rounds;
    }

    /** Requests that rode on a round already in flight or queued. */
    long coalesced() {
        return coalesced;
    }

    /** An spte was removed or write-protected: a vCPU may hold it until the next round. */
    void zapIssued() {
        zapsIssued++;
    }

    /** Every removal so far is covered by a completed round: no vCPU can hold what was removed. */
    boolean allZapsFlushed() {
        return zapsIssued == zapsFlushed;
    }

    /**
     * Runs {@code then} with the round in flight if that round already covers every removal so far (an invalidation
     * that zapped nothing needs no later one); false when there is no such round.
     */
    boolean joinRoundCoveringAllZaps(Runnable then) {
        if (!inFlight || roundCovers != zapsIssued) {
            return false;
        }
        coalesced++;
        waiters.add(then);
        return true;
    }

    /** Runs {@code then} once every vCPU flushed in a round that started after this call. */
    void request(Runnable then) {
        if (vcpus.isEmpty()) {
            zapsFlushed = zapsIssued;
            then.run();
            return;
        }
        if (inFlight) {
            coalesced++;
            queued.add(then);
            return;
        }
        startRound(new ArrayList<>(List.of(then)));
    }

    private void startRound(List<Runnable> roundWaiters) {
        inFlight = true;
        roundCovers = zapsIssued;
        waiters = roundWaiters;
        flushId++;
        awaiting.clear();
        awaiting.addAll(vcpus.keySet());
        KvmCommand.FlushTlb request = new KvmCommand.FlushTlb(flushId, context.getSelf());
        for (ActorRef<KvmCommand.FlushTlb> v : vcpus.values()) {
            v.tell(request);
        }
        if (awaiting.isEmpty()) {
            finishRound(); // every vCPU left while the round was queued
        }
    }

    /** A vCPU joins every later round; a second connection of the same id replaces the first. */
    void connect(KvmCommand.ConnectVcpu c) {
        ActorRef<KvmCommand.FlushTlb> previous = vcpus.put(c.vcpu(), c.flushes());
        if (previous != null) {
            context.unwatch(previous);
        }
        // A vCPU that stops must not hold every later ack hostage until the host fences the whole VM.
        context.watchWith(c.flushes(), new VcpuGone(c.vcpu(), c.flushes()));
    }

    void vcpuGone(VcpuGone g) {
        if (!g.flushes().equals(vcpus.get(g.vcpu()))) {
            return; // replaced by a newer connection of the same vCPU
        }
        vcpus.remove(g.vcpu());
        context.getLog().debug("kvm {}: vCPU {} stopped; no longer part of remote flushes", name, g.vcpu());
        if (inFlight && awaiting.remove(g.vcpu()) && awaiting.isEmpty()) {
            finishRound();
        }
    }

    void flushed(KvmCommand.TlbFlushed t) {
        if (!inFlight || t.flush() != flushId) {
            return;
        }
        awaiting.remove(t.vcpu());
        if (awaiting.isEmpty()) {
            finishRound();
        }
    }

    private void finishRound() {
        rounds++;
        inFlight = false;
        zapsFlushed = roundCovers;
        List<Runnable> done = waiters;
        waiters = new ArrayList<>();
        for (Runnable r : done) {
            r.run();
        }
        if (!queued.isEmpty() && !inFlight) {
            List<Runnable> next = queued;
            queued = new ArrayList<>();
            startRound(next);
        }
    }
}
