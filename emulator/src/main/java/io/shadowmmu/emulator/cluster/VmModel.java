package io.shadowmmu.emulator.cluster;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the driver knows of one VM's guest memory: the last value it wrote to each word, the words it cannot know
 * (a write whose answer was lost may or may not have landed), and where the VM ran last. Used by one driver thread
 * at a time (the scenario's phases hand VMs over between them, after a join).
 */
final class VmModel {
    private final Map<Long, Long> written = new HashMap<>();
    private final Set<Long> unknown = new HashSet<>();
    /** Every word not written since is unknown (its node was killed: what it wrote since a write-back is lost). */
    private boolean uncertain;
    String node;

    /** The VM answered from {@code now}; returns true when it moved there from another node. */
    boolean ranOn(String now, boolean importedRam, String killed) {
        String before = node;
        node = now;
        if (before == null || before.equals(now)) {
            return false;
        }
        if (!importedRam) {
            // Started again elsewhere with fresh (zero) RAM.
            written.clear();
            unknown.clear();
            uncertain = false;
        } else if (before.equals(killed)) {
            // Imported RAM survives a move, but a crash loses what the copies held since their last write-back.
            written.clear();
            unknown.clear();
            uncertain = true;
        }
        return true;
    }

    void wrote(long key, long value) {
        written.put(key, value);
        unknown.remove(key);
    }

    /** A write's answer was lost: it may have landed or not. */
    void lostWrite(long key) {
        written.remove(key);
        unknown.add(key);
    }

    boolean knows(long key) {
        return written.containsKey(key) || !(uncertain || unknown.contains(key));
    }

    long expected(long key) {
        return written.getOrDefault(key, 0L);
    }
}
