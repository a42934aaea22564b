package io.shadowmmu.hostmm.vma;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class VmaTreeTest {
    private static final long P = 4096;

    @Test
    void removeSplitsAtBothEdges() {
        VmaTree t = new VmaTree();
        t.insert(new Vma(0x10000, 0x10000 + 10 * P, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0));
        List<Vma> removed = t.remove(0x10000 + 2 * P, 0x10000 + 5 * P);
        assertThat(removed).hasSize(1);
        assertThat(removed.get(0).start()).isEqualTo(0x10000 + 2 * P);
        assertThat(t.size()).isEqualTo(2);
        assertThat(t.find(0x10000 + 3 * P)).isNull();
        assertThat(t.find(0x10000 + 5 * P).start()).isEqualTo(0x10000 + 5 * P);
        assertThat(t.fullyMapped(0x10000, 0x10000 + 2 * P)).isTrue();
        assertThat(t.fullyMapped(0x10000, 0x10000 + 6 * P)).isFalse();
    }

    @Test
    void protectSplitsAndKeepsFileOffsets() {
        VmaTree t = new VmaTree();
        io.shadowmmu.hostmm.file.MemFile f = new io.shadowmmu.hostmm.file.MemFile("f", 10 * P,
                new io.shadowmmu.hostmm.phys.PhysicalMemory(16, io.shadowmmu.config.ContentMode.TAGGED, false,
                        io.shadowmmu.hostmm.events.CoherenceEvents.NONE));
        t.insert(new Vma(0x20000, 0x20000 + 10 * P, Protection.READ_WRITE, VmaKind.FILE_SHARED, f, 0));
        t.protect(0x20000 + 4 * P, 0x20000 + 6 * P, Protection.READ);
        Vma mid = t.find(0x20000 + 4 * P);
        assertThat(mid.prot()).isEqualTo(Protection.READ);
        assertThat(mid.filePage(0x20000 + 5 * P)).isEqualTo(5);
        assertThat(t.find(0x20000 + 6 * P).filePage(0x20000 + 7 * P)).isEqualTo(7);
        assertThat(t.size()).isEqualTo(3);
    }

    @Test
    void findFreePlacesAboveTheHighestMappingAndAlignsLargeOnes() {
        VmaTree t = new VmaTree();
        assertThat(t.findFree(P)).isEqualTo(VmaTree.MMAP_BASE);
        t.insert(new Vma(VmaTree.MMAP_BASE, VmaTree.MMAP_BASE + P, Protection.READ, VmaKind.ANON_PRIVATE, null, 0));
        assertThat(t.findFree(P)).isEqualTo(VmaTree.MMAP_BASE + P);
        assertThat(t.findFree(4L << 20) % (2L << 20)).isZero();
    }

    @Test
    void aLookupAfterAChangeNeverAnswersFromTheVmaItFoundBefore() {
        VmaTree t = new VmaTree();
        long base = 0x30000;
        t.insert(new Vma(base, base + 8 * P, Protection.READ_WRITE, VmaKind.ANON_PRIVATE, null, 0));
        assertThat(t.find(base + P).prot()).isEqualTo(Protection.READ_WRITE);

        t.protect(base, base + 4 * P, Protection.READ);
        assertThat(t.find(base + P).prot()).as("after mprotect").isEqualTo(Protection.READ);

        t.remove(base, base + 2 * P);
        assertThat(t.find(base + P)).as("after munmap").isNull();
        assertThat(t.find(base + 3 * P).start()).isEqualTo(base + 2 * P);

        t.clear();
        assertThat(t.find(base + 3 * P)).as("after exit").isNull();
        t.insert(new Vma(base, base + P, Protection.READ, VmaKind.ANON_PRIVATE, null, 0));
        assertThat(t.find(base + 3 * P)).as("a smaller mapping in its place").isNull();
        assertThat(t.find(base)).isNotNull();
    }
}
