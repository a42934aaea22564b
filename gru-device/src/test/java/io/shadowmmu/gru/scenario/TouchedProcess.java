package io.shadowmmu.gru.scenario;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.testkit.junit.ShadowTestKit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The common start of the slow-ack and churn tests: a host with one process that mapped four anonymous pages and
 * wrote the first word of the first, so that page has a frame to invalidate.
 *
 * @param spawned the process (its mm actor and id)
 * @param va      the first mapped page
 * @param results a probe for the process's replies, free for the test's own commands
 */
record TouchedProcess(HostContext host, HostCommand.ProcessSpawned spawned, long va, TestProbe<MmResult> results) {

    static TouchedProcess start(ShadowTestKit kit, Settings settings, CoherenceEvents events, long firstWord) {
        HostContext host = HostContext.create(settings, events);
        ActorRef<HostCommand> hostActor = kit.spawn(HostActor.create(host));
        TestProbe<HostCommand.ProcessSpawned> spawnedProbe = kit.createTestProbe();
        hostActor.tell(new HostCommand.SpawnProcess("user", spawnedProbe.getRef()));
        HostCommand.ProcessSpawned spawned = spawnedProbe.receiveMessage();
        TestProbe<MmResult> results = kit.createTestProbe();
        spawned.process().tell(MmCommand.Mmap.anonymous(4 * 4096, Protection.READ_WRITE, results.getRef()));
        long va = ((MmResult.Done) results.receiveMessage()).value();
        spawned.process().tell(new MmCommand.Access(va, true, firstWord, results.getRef()));
        assertThat(results.receiveMessage().ok()).isTrue();
        return new TouchedProcess(host, spawned, va, results);
    }

    ActorRef<MmCommand> process() {
        return spawned.process();
    }
}
