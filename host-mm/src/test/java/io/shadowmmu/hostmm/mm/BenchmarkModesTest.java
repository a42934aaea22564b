package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.notifier.Interest;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.notifier.SyncSubscriber;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The two baselines the benchmarks measure against: the bypassed notifier and the synchronous delivery mode. */
class BenchmarkModesTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create("akka.loglevel = WARNING");

    @Test
    void anMmWithTheNotifierBypassedFaultsAndUnmapsButRefusesSubscribers() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of());
        ActorRef<MmCommand> mm = kit.spawn(MmActor.createWithoutNotifier(h.host, h.hostActor, MmIds.next(),
                "bypassed"));
        long used = h.host.memory().usedFrames();
        long va = h.mmapAnon(mm, 4 * 4096);
        for (int i = 0; i < 4; i++) {
            h.write(mm, va + i * 4096L, 100 + i);
        }
        assertThat(h.read(mm, va + 3 * 4096L)).isEqualTo(103);
        assertThat(h.host.memory().usedFrames()).isEqualTo(used + 4);

        TestProbe<MmuNotification> subscriber = kit.createTestProbe();
        TestProbe<MmCommand.Registered> registered = kit.createTestProbe();
        mm.tell(new MmCommand.Register(subscriber.getRef(), Interest.WHOLE_MM, 1, "s", null, registered.getRef()));
        MmuNotification.Fenced refused = subscriber.expectMessageClass(MmuNotification.Fenced.class);
        assertThat(refused.reason()).contains("bypassed");
        registered.expectNoMessage();

        assertThat(HostFixture.done(h.call(mm, r -> new MmCommand.Munmap(va, 4 * 4096, r)))).isZero();
        assertThat(h.host.memory().usedFrames()).isEqualTo(used);
        subscriber.expectNoMessage();
    }

    @Test
    void theSynchronousModeCallsEverySubscriberBeforeItFreesAndRefaultsAfter() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of());
        SynchronousMm mm = new SynchronousMm(h.host, "sync");
        List<String> calls = new ArrayList<>();
        long[] usedAtStart = {-1};
        SyncSubscriber first = new SyncSubscriber() {
            @Override
            public void invalidateStart(long id, List<Range> ranges, InvalidationEvent event) {
                usedAtStart[0] = h.host.memory().usedFrames();
                calls.add("start1 " + ranges + " " + event);
            }

            @Override
            public void invalidateEnd(long id, List<Range> ranges) {
                calls.add("end1");
            }
        };
        SyncSubscriber second = new SyncSubscriber() {
            @Override
            public void invalidateStart(long id, List<Range> ranges, InvalidationEvent event) {
                calls.add("start2");
            }

            @Override
            public void invalidateEnd(long id, List<Range> ranges) {
                calls.add("end2");
            }
        };
        mm.subscribe(first);
        mm.subscribe(second);
        long used = h.host.memory().usedFrames();
        long va = mm.mmap(3 * 4096);
        for (int i = 0; i < 3; i++) {
            mm.access(va + i * 4096L, true, 7 + i);
        }
        assertThat(mm.access(va + 4096, false, 0)).isEqualTo(8);
        assertThat(calls).isEmpty();

        mm.dontneed(va, 3 * 4096);
        Range all = new Range(va, va + 3 * 4096);
        assertThat(calls).containsExactly("start1 " + List.of(all) + " CLEAR", "start2", "end1", "end2");
        assertThat(usedAtStart[0]).as("frames still held while subscribers run").isEqualTo(used + 3);
        assertThat(h.host.memory().usedFrames()).isEqualTo(used);
        assertThat(mm.access(va + 4096, false, 0)).as("a private anonymous page refaults as zero").isZero();

        calls.clear();
        mm.munmap(va, 3 * 4096);
        assertThat(calls).containsExactly("start1 " + List.of(new Range(va + 4096, va + 2 * 4096)) + " UNMAP",
                "start2", "end1", "end2");
        assertThat(h.host.memory().usedFrames()).isEqualTo(used);
    }
}
