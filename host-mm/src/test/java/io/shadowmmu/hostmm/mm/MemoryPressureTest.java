package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.notifier.InvalidationEvent;
import io.shadowmmu.hostmm.notifier.Range;
import io.shadowmmu.hostmm.pressure.PressureCounters;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Reclaim, swap, page-cache eviction, migration and KSM, each going through the notifier. */
class MemoryPressureTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static PressureCounters.Snapshot pressure(HostFixture h) {
        TestProbe<PressureCounters.Snapshot> p = kit.createTestProbe();
        h.hostActor.tell(new HostCommand.GetPressureStats(p.getRef()));
        return p.receiveMessage();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gather", "range"})
    void twiceTheHostsMemoryIsWrittenAndReadBackThroughSwapAndTheFile(String strategy) {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.memory", "2m", "notifier.strategy", strategy,
                "reclaim.low-watermark", "0.1", "reclaim.high-watermark", "0.2"));
        ActorRef<MmCommand> mm = h.spawn("big");
        RecordingSubscriber sub = new RecordingSubscriber(null, null);
        kit.spawn(sub.behavior(mm));
        MemFile file = h.createFile("data", 128 * 4096L);
        long anon = h.mmapAnon(mm, 640 * 4096L);
        long mapped = h.mmap(mm, 128 * 4096L, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        for (int i = 0; i < 640; i++) {
            h.write(mm, anon + i * 4096L + 8 * (i % 512), 1000 + i);
        }
        for (int i = 0; i < 128; i++) {
            h.write(mm, mapped + i * 4096L, 5000 + i);
        }
        for (int i = 0; i < 640; i++) {
            assertThat(h.read(mm, anon + i * 4096L + 8 * (i % 512))).as("anon page %d", i).isEqualTo(1000 + i);
        }
        for (int i = 0; i < 128; i++) {
            assertThat(h.read(mm, mapped + i * 4096L)).as("file page %d", i).isEqualTo(5000 + i);
        }
        PressureCounters.Snapshot p = pressure(h);
        assertThat(p.swappedOut()).isPositive();
        assertThat(p.swappedIn()).isPositive();
        assertThat(sub.starts(InvalidationEvent.CLEAR)).as("evictions notify the secondary").isPositive();
        HostFixture.done(h.call(mm, r -> new MmCommand.Exit(r)));
        TestProbe<MmResult> del = kit.createTestProbe();
        h.hostActor.tell(new HostCommand.DeleteFile(file, del.getRef()));
        del.receiveMessage();
        assertThat(h.audit().problems()).isEmpty();
        assertThat(h.host.memory().freeFrames()).isEqualTo(h.host.memory().totalFrames());
        assertThat(h.host.swap().usedSlots()).as("swap slots freed with their PTEs").isZero();
    }

    @Test
    void aPageHotOnlyInASecondaryIsNotEvicted() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.memory", "1m", "reclaim.low-watermark", "0.1",
                "reclaim.high-watermark", "0.3"));
        ActorRef<MmCommand> mm = h.spawn("vmm");
        long va = h.mmapAnon(mm, 600 * 4096L);
        long hot = va + 7 * 4096L;
        RecordingSubscriber guest = new RecordingSubscriber(new Range(hot, hot + 4096), null);
        kit.spawn(guest.behavior(mm));
        h.write(mm, hot, 77);
        PageReply.Granted before = h.gup(mm, hot, false);
        for (int i = 8; i < 600; i++) {
            h.write(mm, va + i * 4096L, i);
        }
        kit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
            assertThat(pressure(h).youngFromSecondaries()).isPositive();
            return null;
        });
        PageReply.Granted after = h.gup(mm, hot, false);
        assertThat(after.pfn()).as("never swapped out").isEqualTo(before.pfn());
        assertThat(after.generation()).isEqualTo(before.generation());
        assertThat(pressure(h).swappedOut()).isPositive();
    }

    @Test
    void aWriteThroughASecondaryReachesTheFileBeforeItsPageIsReclaimed() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.memory", "1m", "reclaim.low-watermark", "0.1",
                "reclaim.high-watermark", "0.3"));
        ActorRef<MmCommand> mm = h.spawn("p");
        MemFile file = h.createFile("f", 4 * 4096L);
        long fva = h.mmap(mm, 4 * 4096L, Protection.READ_WRITE, VmaKind.FILE_SHARED, file);
        RecordingSubscriber device = new RecordingSubscriber(null, new Range(fva, fva + 4096));
        kit.spawn(device.behavior(mm));
        kit.createTestProbe().awaitAssert(() -> {
            assertThat(h.stats(mm).subscribers()).isEqualTo(1);
            return null;
        });
        PageReply.Granted g = h.gup(mm, fva, true);
        // The device writes through its own translation: the host PTE never sees it.
        h.host.memory().write(g.pfn(), 0, 4242);
        long anon = h.mmapAnon(mm, 400 * 4096L);
        for (int i = 0; i < 400; i++) {
            h.write(mm, anon + i * 4096L, i);
        }
        kit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
            assertThat(file.peek(0)).as("page 0 left the page cache").isEqualTo(-1);
            return null;
        });
        assertThat(h.read(mm, fva)).as("the device's write survived reclaim").isEqualTo(4242);
    }

    /**
     * The audit pauses reclaim and waits for its evictions in flight: counted while a page leaves the cache, a frame
     * shows a reference count that was right a moment earlier (a false I5). A file twice the host's memory is read
     * round and round, so reclaim evicts all the time, and the host is audited between reads.
     */
    @Test
    void anAuditDuringReclaimCountsAQuiescentHost() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.memory", "1m", "reclaim.low-watermark", "0.2",
                "reclaim.high-watermark", "0.6", "reclaim.scan-interval", "1ms"));
        ActorRef<MmCommand> mm = h.spawn("reader");
        MemFile file = h.createFile("big", 512 * 4096L);
        long va = h.mmap(mm, 512 * 4096L, Protection.READ, VmaKind.FILE_SHARED, file);
        for (int i = 0; i < 2048; i++) {
            h.read(mm, va + (i % 512) * 4096L);
            if (i % 32 == 31) {
                assertThat(h.audit().problems()).as("audit after read %d", i).isEmpty();
            }
        }
        assertThat(pressure(h).evicted()).as("reclaim ran throughout").isPositive();
    }

    @Test
    void migrationMovesPagesThroughMigrateInvalidationsAndKeepsContents() {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("host.memory", "4m", "migration.enabled", "on",
                "migration.interval", "1ms", "migration.pages-per-interval", "16"));
        ActorRef<MmCommand> mm = h.spawn("p");
        RecordingSubscriber sub = new RecordingSubscriber(null, null);
        kit.spawn(sub.behavior(mm));
        long va = h.mmapAnon(mm, 256 * 4096L);
        Map<Long, Long> golden = new HashMap<>();
        for (int i = 0; i < 256; i++) {
            h.write(mm, va + i * 4096L, 31L * i);
            golden.put(va + i * 4096L, 31L * i);
        }
        kit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
            assertThat(pressure(h).migrations()).isGreaterThan(20);
            return null;
        });
        for (Map.Entry<Long, Long> e : golden.entrySet()) {
            assertThat(h.read(mm, e.getKey())).isEqualTo(e.getValue());
        }
        assertThat(sub.starts(InvalidationEvent.MIGRATE)).isPositive();
        assertThat(h.stats(mm).pressure().migrations()).isPositive();
    }

    @Test
    void ksmMergesIdenticalPagesAndAWriteBreaksTheSharing() {
        HostFixture h = new HostFixture(kit.testKit(),
                Map.of("host.memory", "4m", "ksm.enabled", "on", "ksm.interval", "1ms"));
        ActorRef<MmCommand> a = h.spawn("a");
        ActorRef<MmCommand> b = h.spawn("b");
        kit.spawn(new RecordingSubscriber(null, null).behavior(a));
        long va = h.mmapAnon(a, 32 * 4096L);
        long vb = h.mmapAnon(b, 32 * 4096L);
        for (int i = 0; i < 32; i++) {
            h.write(a, va + i * 4096L, 900 + i);
            h.write(b, vb + i * 4096L, 900 + i);
        }
        long usedBefore = h.host.memory().usedFrames();
        kit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
            assertThat(pressure(h).ksmMerged()).isGreaterThanOrEqualTo(16);
            return null;
        });
        assertThat(h.host.memory().usedFrames()).as("merging frees frames").isLessThan(usedBefore);
        for (int i = 0; i < 32; i++) {
            assertThat(h.read(a, va + i * 4096L)).isEqualTo(900 + i);
            assertThat(h.read(b, vb + i * 4096L)).isEqualTo(900 + i);
        }
        for (int i = 0; i < 32; i++) {
            h.write(b, vb + i * 4096L, -1);
        }
        assertThat(h.stats(b).pressure().ksmBroken() + h.stats(a).pressure().ksmBroken()).isPositive();
        for (int i = 0; i < 32; i++) {
            assertThat(h.read(a, va + i * 4096L)).as("the other sharer keeps its contents").isEqualTo(900 + i);
        }
        HostFixture.done(h.call(a, r -> new MmCommand.Exit(r)));
        HostFixture.done(h.call(b, r -> new MmCommand.Exit(r)));
        assertThat(h.audit().problems()).isEmpty();
    }
}
