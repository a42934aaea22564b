package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.hostmm.vma.VmaKind;
import io.shadowmmu.testkit.junit.ShadowTestKit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Seeded random churn over several processes with subscribers that ack at once, late, or too late (fenced). Each
 * process checks that it reads back what it wrote where nothing legitimately discarded it; at the end every process
 * exits and the host must account for every frame (I5) with none leaked.
 */
class RandomChurnTest {
    @RegisterExtension
    static final ShadowTestKit kit = ShadowTestKit.create();

    private static final class Proc {
        final ActorRef<MmCommand> mm;
        final List<long[]> regions = new ArrayList<>(); // {start, pages, kind ordinal}
        final Map<Long, Long> golden = new HashMap<>();

        Proc(ActorRef<MmCommand> mm) {
            this.mm = mm;
        }
    }

    @ParameterizedTest(name = "{0} seed {1} slow ack {2} ms, {3} steps")
    @CsvSource({"gather, 1, 0, 600", "gather, 2, 5, 600", "range, 3, 0, 600", "range, 4, 5, 400", "gather, 5, 80, 300",
        "range, 6, 80, 200", "two_phase, 7, 5, 400", "per_page, 8, 5, 400", "per_pt_page, 9, 0, 400",
        "two_phase, 10, 80, 200"})
    void churnKeepsContentsAndAccountsForEveryFrame(String strategy, long seed, long slowMs, int steps) {
        HostFixture h = new HostFixture(kit.testKit(), Map.of("notifier.strategy", strategy,
                "notifier.ack-deadline", "40ms", "host.memory", "8m"));
        SplittableRandom rnd = new SplittableRandom(seed);
        MemFile file = h.createFile("f", 16 * 4096);
        List<Proc> procs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            procs.add(newProc(h, h.spawn("p" + i), slowMs));
        }
        for (int step = 0; step < steps; step++) {
            Proc p = procs.get(rnd.nextInt(procs.size()));
            int op = rnd.nextInt(100);
            if (op < 10 || p.regions.isEmpty()) {
                int kind = rnd.nextInt(3);
                long pages = 1 + rnd.nextInt(12);
                VmaKind k = kind == 0 ? VmaKind.ANON_PRIVATE : kind == 1 ? VmaKind.ANON_SHARED : VmaKind.FILE_SHARED;
                long len = k == VmaKind.FILE_SHARED ? 16 * 4096 : pages * 4096;
                long va = h.mmap(p.mm, len, Protection.READ_WRITE, k, k == VmaKind.FILE_SHARED ? file : null);
                p.regions.add(new long[] {va, len / 4096, k.ordinal()});
            } else if (op < 60) {
                long[] r = p.regions.get(rnd.nextInt(p.regions.size()));
                long va = r[0] + rnd.nextInt((int) r[1]) * 4096L + rnd.nextInt(512) * 8L;
                if (rnd.nextBoolean()) {
                    long value = rnd.nextLong();
                    MmResult res = h.call(p.mm, reply -> new MmCommand.Access(va, true, value, reply));
                    if (res.ok() && r[2] == VmaKind.ANON_PRIVATE.ordinal()) {
                        p.golden.put(va, value);
                    }
                } else {
                    MmResult res = h.call(p.mm, reply -> new MmCommand.Access(va, false, 0, reply));
                    Long expected = p.golden.get(va);
                    if (res.ok() && expected != null) {
                        assertThat(((MmResult.Done) res).value()).as("I1 at 0x%x step %d", va, step)
                                .isEqualTo(expected);
                    }
                }
            } else if (op < 70) {
                long[] r = p.regions.remove(rnd.nextInt(p.regions.size()));
                HostFixture.done(h.call(p.mm, reply -> new MmCommand.Munmap(r[0], r[1] * 4096, reply)));
                p.golden.keySet().removeIf(va -> va >= r[0] && va < r[0] + r[1] * 4096);
            } else if (op < 78) {
                long[] r = p.regions.get(rnd.nextInt(p.regions.size()));
                HostFixture.done(h.call(p.mm, reply -> new MmCommand.MadviseDontneed(r[0], r[1] * 4096, reply)));
                p.golden.keySet().removeIf(va -> va >= r[0] && va < r[0] + r[1] * 4096);
            } else if (op < 86) {
                long[] r = p.regions.get(rnd.nextInt(p.regions.size()));
                Protection prot = rnd.nextBoolean() ? Protection.READ : Protection.READ_WRITE;
                HostFixture.done(h.call(p.mm, reply -> new MmCommand.Mprotect(r[0], r[1] * 4096, prot, reply)));
            } else if (op < 92 && procs.size() < 6) {
                TestProbe<MmCommand.ForkResult> fr = kit.createTestProbe();
                p.mm.tell(new MmCommand.Fork(null, fr.getRef()));
                MmCommand.ForkResult child = fr.receiveMessage(Duration.ofSeconds(10));
                assertThat(child.status().ok()).isTrue();
                Proc c = newProc(h, child.child(), slowMs);
                for (long[] r : p.regions) {
                    c.regions.add(r.clone());
                }
                c.golden.putAll(p.golden);
                procs.add(c);
            } else if (op < 96) {
                long size = rnd.nextInt(17) * 4096L;
                TestProbe<MmResult> t = kit.createTestProbe();
                h.hostActor.tell(new HostCommand.Truncate(file, size, t.getRef()));
                assertThat(t.receiveMessage(Duration.ofSeconds(10)).ok()).isTrue();
                h.hostActor.tell(new HostCommand.Truncate(file, 16 * 4096, t.getRef()));
                assertThat(t.receiveMessage(Duration.ofSeconds(10)).ok()).isTrue();
            } else if (procs.size() > 1) {
                Proc gone = procs.remove(rnd.nextInt(procs.size()));
                HostFixture.done(h.call(gone.mm, reply -> new MmCommand.Exit(reply)));
            }
        }
        for (Proc p : procs) {
            HostFixture.done(h.call(p.mm, reply -> new MmCommand.Exit(reply)));
        }
        TestProbe<MmResult> del = kit.createTestProbe();
        h.hostActor.tell(new HostCommand.DeleteFile(file, del.getRef()));
        assertThat(del.receiveMessage().ok()).isTrue();
        HostCommand.AuditReport audit = h.audit();
        assertThat(audit.problems()).isEmpty();
        assertThat(audit.leaked()).isZero();
        assertThat(h.host.memory().freeFrames()).as("every frame back on the free list")
                .isEqualTo(h.host.memory().totalFrames());
    }

    private static Proc newProc(HostFixture h, ActorRef<MmCommand> mm, long slowMs) {
        kit.spawn(AutoAckSubscriber.create(mm, Duration.ZERO, null));
        if (slowMs > 0) {
            kit.spawn(AutoAckSubscriber.create(mm, Duration.ofMillis(slowMs), Duration.ofMillis(40)));
        }
        return new Proc(mm);
    }
}
