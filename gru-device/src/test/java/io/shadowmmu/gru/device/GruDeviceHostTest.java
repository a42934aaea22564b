package io.shadowmmu.gru.device;

import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.Errno;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.PageReply;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The device against a real host: drop-ins from the host page table, host faults, invalidation flushes. */
class GruDeviceHostTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    @Test
    void storesAndLoadsGoThroughTheDeviceTlbAfterOneHostFault() {
        GruHost h = new GruHost(kit.testKit(), Map.of());
        HostCommand.ProcessSpawned p = h.spawn("p");
        long va = h.mmapAnon(p.process(), 16 * 4096);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ctx = h.open(dev, p);

        GruCommand.BatchResult r = h.exec(dev, ctx, Instructions.one(Instructions.STORE, va + 8, 41));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.FAULT); // nothing mapped yet
        assertThat(r.faultWrite()).isTrue();
        assertThat(h.gup(p.process(), va + 8, true)).isInstanceOf(PageReply.Granted.class);

        Instructions ins = new Instructions(new byte[] {Instructions.STORE, Instructions.AMO, Instructions.LOAD},
                new long[] {va + 8, va + 8, va + 8}, new long[] {41, 1, 0}, 3);
        r = h.exec(dev, ctx, ins);
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(r.loadSum()).isEqualTo(41 + 42); // the AMO returned 41, the load 42
        assertThat(h.read(p.process(), va + 8)).isEqualTo(42);
        GruStats s = h.stats(dev);
        assertThat(s.dropins()).isEqualTo(1);
        assertThat(s.hits()).isEqualTo(2);
        assertThat(s.dropinFailures()).isEqualTo(1);
        assertThat(h.violations.seen).isEmpty();
    }

    @Test
    void aStoreAfterMprotectReadOnlyFailsFaultsAndDoesNotWrite() {
        GruHost h = new GruHost(kit.testKit(), Map.of());
        HostCommand.ProcessSpawned p = h.spawn("p");
        long va = h.mmapAnon(p.process(), 4 * 4096);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ctx = h.open(dev, p);
        h.gup(p.process(), va, true);
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.STORE, va, 7)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);

        GruHost.done(h.call(p.process(), r -> new MmCommand.Mprotect(va, 4096, Protection.READ, r)));
        long flushed = h.stats(dev).entriesFlushed();
        assertThat(flushed).isEqualTo(1); // the writable entry went before mprotect returned

        GruCommand.BatchResult r = h.exec(dev, ctx, Instructions.one(Instructions.STORE, va, 99));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.FAULT);
        PageReply host = h.gup(p.process(), r.faultVa(), true);
        assertThat(host).isInstanceOf(PageReply.Denied.class);
        assertThat(((PageReply.Denied) host).errno()).isEqualTo(Errno.SEGV_ACCERR);
        assertThat(h.read(p.process(), va)).isEqualTo(7);
        // Loads still work through a read-only drop-in.
        GruCommand.BatchResult load = h.exec(dev, ctx, Instructions.one(Instructions.LOAD, va, 0));
        assertThat(load.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(load.loadSum()).isEqualTo(7);
    }

    @Test
    void aStoreAfterForkBreaksCowThroughAHostFaultAndLeavesTheChildAlone() {
        GruHost h = new GruHost(kit.testKit(), Map.of());
        HostCommand.ProcessSpawned p = h.spawn("p");
        long va = h.mmapAnon(p.process(), 4 * 4096);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ctx = h.open(dev, p);
        h.gup(p.process(), va, true);
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.STORE, va, 5)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);

        akka.actor.testkit.typed.javadsl.TestProbe<MmCommand.ForkResult> fp = kit.createTestProbe();
        p.process().tell(new MmCommand.Fork("child", fp.getRef()));
        MmCommand.ForkResult fork = fp.receiveMessage(java.time.Duration.ofSeconds(5));
        assertThat(fork.status().ok()).isTrue();

        GruCommand.BatchResult r = h.exec(dev, ctx, Instructions.one(Instructions.STORE, va, 6));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.FAULT); // write-protected for COW
        assertThat(h.gup(p.process(), va, true)).isInstanceOf(PageReply.Granted.class); // breaks COW
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.STORE, va, 6)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        assertThat(h.read(p.process(), va)).isEqualTo(6);
        assertThat(h.read(fork.child(), va)).isEqualTo(5);
        assertThat(h.violations.seen).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({"PER_PAGE, 16384", "PER_PT_PAGE, 32", "RANGE, 1", "GATHER, 1"})
    void aMunmapOf64MiBFlushesOncePerNotifiedRange(String strategy, long expectedFlushes) {
        GruHost h = new GruHost(kit.testKit(), Map.of("host.memory", "80m", "notifier.strategy", strategy,
                "reclaim.enabled", "off"));
        HostCommand.ProcessSpawned p = h.spawn("p");
        long length = 64L << 20;
        long va = h.mmapAnon(p.process(), length);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ctx = h.open(dev, p);
        h.populate(p.process(), va, length);
        GruCommand.BatchResult r = h.exec(dev, ctx, Instructions.one(Instructions.LOAD, va + length - 4096, 0));
        assertThat(r.status()).isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruStats before = h.stats(dev);

        GruHost.done(h.call(p.process(), reply -> new MmCommand.Munmap(va, length, reply)));

        GruStats after = h.stats(dev);
        assertThat(after.flushes() - before.flushes()).isEqualTo(expectedFlushes);
        assertThat(after.entriesFlushed() - before.entriesFlushed()).isEqualTo(1);
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.LOAD, va, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.FAULT);
    }

    @Test
    void stealingAContextFlushesItsTranslations() {
        GruHost h = new GruHost(kit.testKit(), Map.of("gru.contexts-per-device", "1"));
        HostCommand.ProcessSpawned a = h.spawn("a");
        HostCommand.ProcessSpawned b = h.spawn("b");
        long va = h.mmapAnon(a.process(), 4096);
        long vb = h.mmapAnon(b.process(), 4096);
        h.gup(a.process(), va, true);
        h.gup(b.process(), vb, true);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ca = h.open(dev, a);
        int cb = h.open(dev, b);
        assertThat(h.exec(dev, ca, Instructions.one(Instructions.LOAD, va, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruStats s1 = h.stats(dev);
        assertThat(s1.dropins()).isEqualTo(1);

        assertThat(h.exec(dev, cb, Instructions.one(Instructions.LOAD, vb, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruStats s2 = h.stats(dev);
        assertThat(s2.contextSteals()).isEqualTo(1);
        assertThat(s2.flushes() - s1.flushes()).isEqualTo(1);
        assertThat(s2.entriesFlushed() - s1.entriesFlushed()).isEqualTo(1);

        // a's translation went with its context: the next load misses and drops in again.
        assertThat(h.exec(dev, ca, Instructions.one(Instructions.LOAD, va, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruStats s3 = h.stats(dev);
        assertThat(s3.contextSteals()).isEqualTo(2);
        assertThat(s3.hits()).isEqualTo(0);
        assertThat(s3.dropins()).isEqualTo(3);
    }

    @Test
    void exitReleasesTheContexts() {
        GruHost h = new GruHost(kit.testKit(), Map.of());
        HostCommand.ProcessSpawned p = h.spawn("p");
        long va = h.mmapAnon(p.process(), 4096);
        h.gup(p.process(), va, true);
        ActorRef<GruCommand> dev = h.device("gru0");
        int ctx = h.open(dev, p);
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.LOAD, va, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.DONE);
        GruHost.done(h.call(p.process(), MmCommand.Exit::new));
        assertThat(h.exec(dev, ctx, Instructions.one(Instructions.LOAD, va, 0)).status())
                .isEqualTo(GruCommand.BatchResult.Status.GONE);
        assertThat(h.stats(dev).contexts()).isZero();
    }
}
