package io.shadowmmu.guest.os;

import io.shadowmmu.hostmm.pagetable.Pte;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class GuestOsTest {
    private static final long BASE = 0x40_0000L;

    /** Applies writes to a map standing in for guest RAM, then walks it like the hardware does. */
    private static final class FakeRam {
        final Map<Long, Long> words = new HashMap<>();

        void apply(GuestWrites w) {
            for (int i = 0; i < w.size(); i++) {
                words.put(w.gpa(i), w.value(i));
            }
        }

        long walk(long cr3, long gva) {
            long table = cr3 >>> GuestLayout.PAGE_SHIFT;
            for (int level = 3; level >= 0; level--) {
                long e = words.getOrDefault(GuestLayout.entryGpa(table, GuestLayout.index(gva, level)), 0L);
                if (!Pte.isPresent(e)) {
                    return Pte.NONE;
                }
                if (level == 0) {
                    return e;
                }
                table = Pte.pfn(e);
            }
            throw new AssertionError();
        }
    }

    @Test
    void demandFaultWritesAFourLevelTableIntoGuestMemory() {
        GuestOs os = new GuestOs(64);
        FakeRam ram = new FakeRam();
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn("init", List.of(new GuestVma(BASE, BASE + 16 * 4096, true)), w);
        ram.apply(w);
        w = new GuestWrites();
        assertThat(os.pageFault(p.pid(), BASE + 0x1008, true, w)).isEqualTo(GuestFaultResult.MAPPED);
        // Three new intermediate tables + one leaf entry; fresh frames need no clearing.
        assertThat(w.size()).isEqualTo(4);
        ram.apply(w);
        long pte = ram.walk(p.cr3(), BASE + 0x1008);
        assertThat(Pte.isPresent(pte)).isTrue();
        assertThat(Pte.isWritable(pte)).isTrue();
        assertThat(pte).isEqualTo(p.pageTable().lookup(BASE + 0x1000));
        assertThat(os.allocator().freeFrames()).isEqualTo(64 - 5);
    }

    @Test
    void accessOutsideAMappingIsASegfaultNotAnException() {
        GuestOs os = new GuestOs(64);
        GuestProcess p = os.spawn("p", List.of(new GuestVma(BASE, BASE + 4096, false)), new GuestWrites());
        assertThat(os.pageFault(p.pid(), 0x10, false, new GuestWrites())).isEqualTo(GuestFaultResult.SEGV_MAPERR);
        assertThat(os.pageFault(p.pid(), BASE, true, new GuestWrites())).isEqualTo(GuestFaultResult.SEGV_ACCERR);
        assertThat(os.segvs()).isEqualTo(2);
    }

    @Test
    void unmapClearsTheEntryAndFramesComeBackOnlyWhenReleased() {
        GuestOs os = new GuestOs(64);
        FakeRam ram = new FakeRam();
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn("p", List.of(new GuestVma(BASE, BASE + 8 * 4096, true)), w);
        for (int i = 0; i < 8; i++) {
            os.pageFault(p.pid(), BASE + i * 4096L, false, w);
        }
        ram.apply(w);
        long free = os.allocator().freeFrames();
        w = new GuestWrites();
        List<Long> freed = new ArrayList<>();
        assertThat(os.unmap(p.pid(), BASE + 2 * 4096, BASE + 4 * 4096, w, freed)).isEqualTo(2);
        ram.apply(w);
        assertThat(ram.walk(p.cr3(), BASE + 2 * 4096)).isEqualTo(Pte.NONE);
        assertThat(Pte.isPresent(ram.walk(p.cr3(), BASE + 4 * 4096))).isTrue();
        assertThat(os.allocator().freeFrames()).isEqualTo(free);
        os.releaseFrames(freed);
        assertThat(os.allocator().freeFrames()).isEqualTo(free + 2);
        // The hole is no longer mapped: touching it is a segfault.
        assertThat(os.pageFault(p.pid(), BASE + 2 * 4096, false, new GuestWrites()))
                .isEqualTo(GuestFaultResult.SEGV_MAPERR);
    }

    @Test
    void protectChangesGuestPtes() {
        GuestOs os = new GuestOs(64);
        FakeRam ram = new FakeRam();
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn("p", List.of(new GuestVma(BASE, BASE + 4 * 4096, true)), w);
        os.pageFault(p.pid(), BASE, true, w);
        ram.apply(w);
        w = new GuestWrites();
        assertThat(os.protect(p.pid(), BASE, BASE + 4 * 4096, false, w)).isEqualTo(1);
        ram.apply(w);
        assertThat(Pte.isWritable(ram.walk(p.cr3(), BASE))).isFalse();
        assertThat(os.pageFault(p.pid(), BASE, true, new GuestWrites())).isEqualTo(GuestFaultResult.SEGV_ACCERR);
    }

    @Test
    void aReusedFrameIsClearedBeforeItBecomesATable() {
        GuestOs os = new GuestOs(8);
        long[] balloon = os.inflateBalloon(8);
        assertThat(balloon).hasSize(8);
        os.deflateBalloon(balloon);
        GuestWrites w = new GuestWrites();
        os.spawn("p", List.of(new GuestVma(BASE, BASE + 4096, true)), w);
        assertThat(w.size()).isEqualTo(GuestLayout.ENTRIES);
    }

    @Test
    void outOfGuestMemoryIsReported() {
        GuestOs os = new GuestOs(5);
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn("p", List.of(new GuestVma(BASE, BASE + 16 * 4096, true)), w);
        assertThat(os.pageFault(p.pid(), BASE, false, w)).isEqualTo(GuestFaultResult.MAPPED);
        assertThat(os.pageFault(p.pid(), BASE + 4096, false, w)).isEqualTo(GuestFaultResult.OOM);
    }

    @Test
    void aFaultOnAnEntryGuestMemoryLostRewritesThePath() {
        GuestOs os = new GuestOs(64);
        FakeRam ram = new FakeRam();
        GuestWrites w = new GuestWrites();
        GuestProcess p = os.spawn("p", List.of(new GuestVma(BASE, BASE + 4096, true)), w);
        os.pageFault(p.pid(), BASE, true, w);
        // The host discarded guest RAM: nothing the kernel wrote is there any more.
        GuestWrites again = new GuestWrites();
        assertThat(os.pageFault(p.pid(), BASE, false, again)).isEqualTo(GuestFaultResult.MAPPED);
        ram.apply(again);
        assertThat(Pte.isPresent(ram.walk(p.cr3(), BASE))).isTrue();
        assertThat(again.size()).isEqualTo(4);
        assertThat(os.pageTableRepairs()).isEqualTo(1);
    }
}
