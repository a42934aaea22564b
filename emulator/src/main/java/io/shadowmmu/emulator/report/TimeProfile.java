package io.shadowmmu.emulator.report;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Where a run's time goes, by sampling: every few milliseconds one thread outside the actor system takes the stacks of
 * the actor system's dispatcher threads and charges each thread to the agent class of its innermost project frame
 * (vCPU and guest, KVM, host-mm, pressure daemons, stressors, GRU, the oracle), to the actor runtime when it runs
 * without a project frame, or to idle when it waits for work. Nothing is added to the actors' own paths, so the
 * profile costs the same whether the agents are fast or slow; every sample of every thread counts once, so the
 * shares sum to 100% of the dispatcher threads' wall time. The dispatcher threads' CPU time is read at the end.
 */
public final class TimeProfile implements AutoCloseable {
    /** Agent classes in report order; {@link #IDLE} and {@link #RUNTIME} last. */
    public static final List<String> CLASSES = List.of("oracle", "vcpu", "kvm", "hostmm", "pressure", "stressors",
            "gru", "other", "runtime", "idle");
    static final String IDLE = "idle";
    static final String RUNTIME = "runtime";
    private static final long PERIOD_MICROS = 10_000;
    private static final int DEPTH = 64;

    private final String threadPrefix;
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final long[] counts = new long[CLASSES.size()];
    private final Map<Long, Long> cpuAtStart = new LinkedHashMap<>();
    private final ScheduledExecutorService timer;
    private long samples;

    private TimeProfile(String threadPrefix) {
        this.threadPrefix = threadPrefix;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "time-profile");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts sampling the threads whose names start with {@code threadPrefix} (an actor system's name and "-"). */
    public static TimeProfile start(String threadPrefix) {
        TimeProfile p = new TimeProfile(threadPrefix);
        p.timer.scheduleAtFixedRate(p::sample, PERIOD_MICROS, PERIOD_MICROS, TimeUnit.MICROSECONDS);
        return p;
    }

    private synchronized void sample() {
        for (ThreadInfo info : threads.dumpAllThreads(false, false, DEPTH)) {
            if (info == null || !info.getThreadName().startsWith(threadPrefix)
                    || info.getThreadName().contains("scheduler")) {
                continue;
            }
            cpuAtStart.computeIfAbsent(info.getThreadId(), id -> Math.max(0, threads.getThreadCpuTime(id)));
            counts[CLASSES.indexOf(classify(info))]++;
            samples++;
        }
    }

    /** The agent class a sampled thread works for. */
    static String classify(ThreadInfo info) {
        String project = null;
        for (StackTraceElement f : info.getStackTrace()) {
            if (f.getClassName().startsWith("io.shadowmmu.")) {
                project = f.getClassName();
                break;
            }
        }
        if (project == null) {
            return info.getThreadState() == Thread.State.RUNNABLE ? RUNTIME : IDLE;
        }
        return ofClass(project);
    }

    /** The agent class of a project class, by package. */
    static String ofClass(String c) {
        if (c.contains(".oracle.")) {
            return "oracle";
        }
        if (c.startsWith("io.shadowmmu.guest.kvm.") || c.startsWith("io.shadowmmu.kvm.")) {
            return "kvm";
        }
        if (c.startsWith("io.shadowmmu.guest.")) {
            return "vcpu";
        }
        if (c.startsWith("io.shadowmmu.hostmm.pressure.")) {
            return "pressure";
        }
        if (c.startsWith("io.shadowmmu.hostmm.")) {
            return "hostmm";
        }
        if (c.startsWith("io.shadowmmu.emulator.vm.HostStressor")) {
            return "stressors";
        }
        if (c.startsWith("io.shadowmmu.gru.")) {
            return "gru";
        }
        return "other";
    }

    /** Stops sampling and returns the profile. */
    @Override
    public synchronized void close() {
        timer.shutdownNow();
    }

    /** The profile as report fields: samples, per-class shares in percent (summing to 100), dispatcher CPU time. */
    public synchronized Map<String, Object> result() {
        Map<String, Object> shares = new LinkedHashMap<>();
        for (int i = 0; i < counts.length; i++) {
            shares.put(CLASSES.get(i), samples == 0 ? 0.0 : 100.0 * counts[i] / samples);
        }
        long cpu = 0;
        for (Map.Entry<Long, Long> e : cpuAtStart.entrySet()) {
            long now = threads.getThreadCpuTime(e.getKey());
            cpu += now < 0 ? 0 : now - e.getValue(); // -1: the thread has ended since
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("samples", samples);
        r.put("periodMicros", PERIOD_MICROS);
        r.put("threads", cpuAtStart.size());
        r.put("dispatcherCpuMs", cpu / 1_000_000);
        r.put("sharePercent", shares);
        return r;
    }

    /** One summary line: the busiest classes first. */
    public static String line(Map<String, Object> profile) {
        @SuppressWarnings("unchecked")
        Map<String, Object> shares = (Map<String, Object>) profile.get("sharePercent");
        List<Map.Entry<String, Object>> sorted = new ArrayList<>(shares.entrySet());
        sorted.sort((a, b) -> Double.compare((Double) b.getValue(), (Double) a.getValue()));
        StringBuilder s = new StringBuilder(String.format("time profile (%,d samples of %d dispatcher threads,"
                + " %,d ms CPU):", profile.get("samples"), profile.get("threads"), profile.get("dispatcherCpuMs")));
        for (Map.Entry<String, Object> e : sorted) {
            s.append(String.format(" %s %.1f%%", e.getKey(), (Double) e.getValue()));
        }
        return s.toString();
    }
}
