package io.shadowmmu.scenario;

/**
 * One GRU-style device of a scenario and the host processes that use it: each maps a region of anonymous memory,
 * opens a context on the device and issues seeded loads, stores and AMOs. Geometry and instruction mix come from
 * the {@code gru} settings; a stressor (mprotect, munmap, DONTNEED, fork on their memory) is optional.
 */
public final class GruSpec {
    final String name;
    int processes = 2;
    long instructions = 100_000;
    long regionBytes = 1 << 20;
    boolean stress;

    GruSpec(String name) {
        this.name = name;
    }

    /** Host processes using the device. */
    public GruSpec processes(int n) {
        processes = n;
        return this;
    }

    /** Device instructions over all its processes. */
    public GruSpec instructions(long n) {
        instructions = n;
        return this;
    }

    /** Memory each process maps and uses through the device. */
    public GruSpec region(String size) {
        regionBytes = com.typesafe.config.ConfigFactory.parseString("m = " + size).getBytes("m");
        return this;
    }

    /** Run gru-device's host stressor on these processes' memory while they work. */
    public GruSpec stressed() {
        stress = true;
        return this;
    }
}
