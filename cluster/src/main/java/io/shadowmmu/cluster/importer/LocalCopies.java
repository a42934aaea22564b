package io.shadowmmu.cluster.importer;

import io.shadowmmu.cluster.protocol.PageCopy;
import io.shadowmmu.cluster.protocol.PageWrite;
import io.shadowmmu.cluster.protocol.Span;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.file.MemFile;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The importing node's copies of remote pages, kept as the page cache of a local file of this node's host (so the
 * node's frame audit accounts for every copy, and the node's oracle sees each copy as a translation of this
 * importer). A copy remembers the exporter's frame it came from and, when writable, a twin of what it was given: a
 * dropped copy sends back only the words that differ from the twin.
 *
 * <p>The page cache may lose a copy to reclaim (its contents go to the file's backing store, dirty or not); an
 * access pins the frame with {@code tryGet} and checks the cache still holds it, and a lost copy is read back in
 * from the backing store, so local writes survive. Plain state of the importer actor.
 */
final class LocalCopies {

    private static final class Copy {
        final int remotePfn;
        final int remoteGeneration;
        final boolean writable;
        final long[] twin;
        int pfn;
        int generation;

        Copy(int remotePfn, int remoteGeneration, boolean writable, long[] twin, int pfn, int generation) {
            this.remotePfn = remotePfn;
            this.remoteGeneration = remoteGeneration;
            this.writable = writable;
            this.twin = twin;
            this.pfn = pfn;
            this.generation = generation;
        }
    }

    private final MemFile file;
    private final PhysicalMemory memory;
    private final CoherenceEvents events;
    private final long agent;
    private final long start;
    private final Map<Long, Copy> copies = new HashMap<>();
    private long written;

    LocalCopies(MemFile file, PhysicalMemory memory, long agent, long start) {
        this.file = file;
        this.memory = memory;
        this.events = memory.events();
        this.agent = agent;
        this.start = start;
    }

    MemFile file() {
        return file;
    }

    long agent() {
        return agent;
    }

    boolean has(long page, boolean write) {
        Copy c = copies.get(page);
        return c != null && (!write || c.writable);
    }

    /** Installs a copy of {@code page} (replacing a read-only one); false when this node is out of memory. */
    boolean install(PageCopy p) {
        Copy old = copies.remove(p.page());
        if (old != null) {
            dropOne(p.page(), old, null);
        }
        long index = (p.page() - start) / PhysicalMemory.PAGE_SIZE;
        int pfn = file.getPage(index); // the page cache's reference plus one for us
        if (pfn < 0) {
            return false;
        }
        memory.restore(pfn, p.contents());
        memory.clearFlag(pfn, PhysicalMemory.FLAG_DIRTY);
        int generation = memory.generation(pfn);
        memory.put(pfn); // the page cache keeps it
        copies.put(p.page(), new Copy(p.pfn(), p.generation(), p.writable(), p.writable() ? p.contents() : null,
                pfn, generation));
        events.translationInstalled(agent, 0, file.id(), p.page(), pfn, generation, p.writable());
        return true;
    }

    /** An 8-byte load or store on the local copy: no message, no allocation. The copy must exist. */
    long access(long page, int word, boolean write, long value) {
        Copy c = copies.get(page);
        int pfn = pinned(page, c);
        try {
            if (write) {
                memory.write(pfn, word, value);
                memory.setFlag(pfn, PhysicalMemory.FLAG_DIRTY);
                return value;
            }
            return memory.read(pfn, word);
        } finally {
            memory.put(pfn);
        }
    }

    /** The copy's frame with a reference held for the access; read back in if reclaim took it. */
    private int pinned(long page, Copy c) {
        long index = (page - start) / PhysicalMemory.PAGE_SIZE;
        if (memory.tryGet(c.pfn, c.generation)) {
            if (file.peek(index) == c.pfn) {
                return c.pfn;
            }
            memory.put(c.pfn);
        }
        // Evicted: the backing store has what the copy held, our writes included.
        events.translationRemoved(agent, 0, file.id(), page, c.pfn, c.generation);
        int pfn = file.getPage(index);
        if (pfn < 0) {
            throw new IllegalStateException("out of memory reading back the copy of 0x" + Long.toHexString(page));
        }
        c.pfn = pfn;
        c.generation = memory.generation(pfn);
        events.translationInstalled(agent, 0, file.id(), page, pfn, c.generation, c.writable);
        return pfn;
    }

    /** Drops the copies in {@code spans}; what they wrote goes to {@code out} when it is not null. */
    void drop(List<Span> spans, List<PageWrite> out) {
        Iterator<Map.Entry<Long, Copy>> it = copies.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, Copy> e = it.next();
            if (Span.anyContains(spans, e.getKey())) {
                it.remove();
                dropOne(e.getKey(), e.getValue(), out);
            }
        }
    }

    /** Drops every copy (fence: {@code out} null, the writes are lost with the attachment; detach: sent back). */
    void dropAll(List<PageWrite> out) {
        for (Map.Entry<Long, Copy> e : copies.entrySet()) {
            dropOne(e.getKey(), e.getValue(), out);
        }
        copies.clear();
    }

    private void dropOne(long page, Copy c, List<PageWrite> out) {
        int pfn = pinned(page, c);
        if (out != null && c.writable) {
            PageWrite w = diff(page, c, pfn);
            if (w != null) {
                out.add(w);
                written++;
            }
        }
        memory.put(pfn);
        long index = (page - start) / PhysicalMemory.PAGE_SIZE;
        // The dirty bit stays: what a local mapper (a VM's KVM) reported writing went back to the exporter in the
        // diff above (or is lost with a fence, by design), and the page cache's eviction writes the frame back to
        // the local file too, so no write is dropped silently (I6).
        events.translationRemoved(agent, 0, file.id(), page, pfn, c.generation);
        if (file.evictIfUnused(index, pfn, 1)) {
            memory.put(pfn);
        }
        // Else someone still holds the page (a reference in flight): it stays in the file's cache, counted by the
        // audit, and a later copy of this page overwrites it whole.
    }

    private PageWrite diff(long page, Copy c, int pfn) {
        long[] now = memory.snapshot(pfn);
        if (now.length != c.twin.length) {
            return new PageWrite(page, c.remotePfn, c.remoteGeneration, null, now);
        }
        int changed = 0;
        for (int i = 0; i < now.length; i++) {
            if (now[i] != c.twin[i]) {
                changed++;
            }
        }
        if (changed == 0) {
            return null;
        }
        if (now.length < PhysicalMemory.WORDS_PER_PAGE) {
            return new PageWrite(page, c.remotePfn, c.remoteGeneration, null, now);
        }
        int[] words = new int[changed];
        long[] values = new long[changed];
        int k = 0;
        for (int i = 0; i < now.length; i++) {
            if (now[i] != c.twin[i]) {
                words[k] = i;
                values[k++] = now[i];
            }
        }
        return new PageWrite(page, c.remotePfn, c.remoteGeneration, words, values);
    }

    int size() {
        return copies.size();
    }

    /** Pages sent back with changes so far. */
    long written() {
        return written;
    }
}
