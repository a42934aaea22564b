package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Pages shared copy-on-write after fork are reclaimed too: through one swap slot, each mapping to it. */
class SharedSwapTest {
    static ActorTestKit kit;

    @BeforeAll
    static void setUp() {
        kit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING"));
    }

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    private static ActorRef<MmCommand> fork(ActorRef<MmCommand> parent) {
        TestProbe<MmCommand.ForkResult> forked = kit.createTestProbe();
        parent.tell(new MmCommand.Fork("child", forked.getRef()));
        MmCommand.ForkResult r = forked.receiveMessage();
        assertThat(r.status().ok()).isTrue();
        return r.child();
    }

    private static MmCommand.PressureDone swapOutShared(ActorRef<MmCommand> mm, long va, int pfn, int generation,
                                                         long slot) {
        TestProbe<MmCommand.PressureDone> done = kit.createTestProbe();
        mm.tell(new MmCommand.SwapOutShared(va, pfn, generation, slot, done.getRef()));
        return done.receiveMessage();
    }

    @Test
    void eachMappingSwapsOutToTheSlotOnlyWhileItStillSharesThoseContents() {
        HostFixture h = new HostFixture(kit, Map.of("host.memory", "1m"));
        ActorRef<MmCommand> parent = h.spawn("parent");
        long va = h.mmapAnon(parent, 2 * 4096L);
        h.write(parent, va, 11);
        h.write(parent, va + 4096, 22);
        ActorRef<MmCommand> child = fork(parent);
        int pfn = -1;
        for (int f = 0; f < h.host.memory().totalFrames() && pfn < 0; f++) {
            if (h.host.rmap().mappings(f).length == 4 && h.host.memory().read(f, 0) == 11) {
                pfn = f;
            }
        }
        assertThat(pfn).as("the first page is shared by parent and child").isNotNegative();
        int generation = h.host.memory().generation(pfn);
        long slot = h.host.swap().reserve();
        h.host.swap().write(slot, h.host.memory().snapshot(pfn));

        // The child writes its copy first: its mapping no longer holds that frame, so it keeps its own page.
        h.write(child, va, 99);
        assertThat(swapOutShared(child, va, pfn, generation, slot).done()).isFalse();
        assertThat(swapOutShared(parent, va, pfn, generation, slot).done()).isTrue();
        h.host.swap().free(slot);

        assertThat(h.read(parent, va)).as("parent reads its page back from swap").isEqualTo(11);
        assertThat(h.read(child, va)).as("the child's own copy").isEqualTo(99);
        assertThat(h.read(child, va + 4096)).isEqualTo(22);
        HostFixture.done(h.call(child, MmCommand.Exit::new));
        HostFixture.done(h.call(parent, MmCommand.Exit::new));
        assertThat(h.audit().problems()).isEmpty();
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames());
        assertThat(h.host.swap().usedSlots()).isZero();
    }

    @Test
    void aSlotWhoseContentsDifferFromTheFrameIsRefused() {
        HostFixture h = new HostFixture(kit, Map.of("host.memory", "1m"));
        ActorRef<MmCommand> parent = h.spawn("parent");
        long va = h.mmapAnon(parent, 4096L);
        h.write(parent, va, 5);
        ActorRef<MmCommand> child = fork(parent);
        int pfn = -1;
        for (int f = 0; f < h.host.memory().totalFrames() && pfn < 0; f++) {
            if (h.host.rmap().mappings(f).length == 4) {
                pfn = f;
            }
        }
        long slot = h.host.swap().reserve();
        h.host.swap().write(slot, new long[512]); // zeros, not the frame's 5
        assertThat(swapOutShared(parent, va, pfn, h.host.memory().generation(pfn), slot).done()).isFalse();
        h.host.swap().free(slot);
        assertThat(h.read(parent, va)).isEqualTo(5);
        assertThat(h.read(child, va)).isEqualTo(5);
        assertThat(h.host.swap().usedSlots()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range"})
    void reclaimSwapsOutPagesSharedAfterForkAndBothSidesReadTheirDataBack(String strategy) {
        HostFixture h = new HostFixture(kit, Map.of("host.memory", "2m", "notifier.strategy", strategy,
                "reclaim.low-watermark", "0.1", "reclaim.high-watermark", "0.2"));
        ActorRef<MmCommand> parent = h.spawn("parent");
        RecordingSubscriber sub = new RecordingSubscriber(null, null);
        kit.spawn(sub.behavior(parent));
        int shared = 300;
        long old = h.mmapAnon(parent, shared * 4096L);
        for (int i = 0; i < shared; i++) {
            h.write(parent, old + i * 4096L + 8 * (i % 512), 1000 + i);
        }
        ActorRef<MmCommand> child = fork(parent);
        // New private memory in the parent pushes the host past its 512 frames.
        long fresh = h.mmapAnon(parent, 300 * 4096L);
        for (int i = 0; i < 300; i++) {
            h.write(parent, fresh + i * 4096L, 7000 + i);
        }
        for (int i = 0; i < shared; i++) {
            long at = old + i * 4096L + 8 * (i % 512);
            assertThat(h.read(parent, at)).as("parent page %d", i).isEqualTo(1000 + i);
            assertThat(h.read(child, at)).as("child page %d", i).isEqualTo(1000 + i);
        }
        for (int i = 0; i < 300; i++) {
            assertThat(h.read(parent, fresh + i * 4096L)).as("fresh page %d", i).isEqualTo(7000 + i);
        }
        // Copy-on-write still holds after a trip through swap.
        h.write(child, old, -1);
        assertThat(h.read(parent, old)).isEqualTo(1000);

        TestProbe<PressureCounters.Snapshot> p = kit.createTestProbe();
        h.hostActor.tell(new HostCommand.GetPressureStats(p.getRef()));
        PressureCounters.Snapshot stats = p.receiveMessage();
        assertThat(stats.sharedSwappedOut()).as("shared pages went to swap").isPositive();
        assertThat(sub.starts(InvalidationEvent.CLEAR)).as("each mapping's swap-out notified").isPositive();
        HostFixture.done(h.call(child, MmCommand.Exit::new));
        HostFixture.done(h.call(parent, MmCommand.Exit::new));
        assertThat(h.audit().problems()).isEmpty();
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames());
        assertThat(h.host.swap().usedSlots()).isZero();
    }
}
