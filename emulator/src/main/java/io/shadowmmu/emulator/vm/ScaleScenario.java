package io.shadowmmu.emulator.vm;

import io.shadowmmu.config.ConfigReader;
import io.shadowmmu.config.Settings;
import io.shadowmmu.emulator.scenario.Scenario;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.guest.os.GuestVma;
import io.shadowmmu.guest.workload.Region;
import io.shadowmmu.guest.workload.WorkloadKind;
import io.shadowmmu.guest.workload.WorkloadSpec;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code scale}: many small VMs in one JVM, in steps (10, 100, 1,000 by default), one after the other on a fresh
 * actor system each: every VM has tiny guest RAM, one vCPU and one process, and each step runs the same number of
 * accesses in all, split evenly over its VMs, so the cost per access shows what the VM count itself costs. The cost
 * per access is over the running phase (every process started until the last VM finished); booting the VMs and the
 * exit and audit at the end are reported apart. An unreported warm-up step (the first count, a tenth of the
 * accesses) runs first so that the first step does not pay for the JIT. The scenario sets {@code guest.memory},
 * {@code guest.vcpus}, {@code host.memory} and {@code notifier.ack-deadline} itself (see {@code scale.*}); no host
 * stressor runs.
 */
public final class ScaleScenario implements Scenario {
    /** Guest virtual base of every process's working set. */
    private static final long BASE = 0x40_0000L;

    /** Settings of this scenario ({@code shadowmmu.scale}). */
    record Params(List<Integer> vmCounts, long guestMemory, long workingSet, long accessesPerStep,
                  WorkloadKind workload) {
        static Params read(Settings settings) {
            ConfigReader r = settings.reader().section("scale");
            List<Integer> counts = new ArrayList<>();
            // A HOCON list ([10, 100, 1000], as in reference.conf) or words ("10 100 1000").
            String raw = r.raw("vm-counts").replace('[', ' ').replace(']', ' ').trim();
            for (String part : raw.split("[\\s,]+")) {
                try {
                    int n = Integer.parseInt(part.trim());
                    if (n < 1 || n > 4096) {
                        throw r.fail("vm-counts", "each count must be between 1 and 4096");
                    }
                    counts.add(n);
                } catch (NumberFormatException e) {
                    throw r.fail("vm-counts", "must be a list of VM counts, e.g. [10, 100, 1000]");
                }
            }
            long guest = r.bytes("guest-memory");
            long ws = r.bytes("working-set");
            if (guest < 64 * 1024 || guest % 4096 != 0) {
                throw r.fail("guest-memory", "must be a multiple of 4k and at least 64k");
            }
            if (ws < 4096 || ws % 4096 != 0 || ws > guest / 2) {
                throw r.fail("working-set", "must be a positive multiple of 4k, at most half of scale.guest-memory");
            }
            return new Params(counts, guest, ws, r.longAtLeast("accesses-per-step", 1),
                    r.enumValue("workload", WorkloadKind.class));
        }
    }

    @Override
    public String name() {
        return "scale";
    }

    @Override
    public String description() {
        return "10, 100 and 1,000 small VMs (1 vCPU, tiny RAM) in turn in one JVM: cost per access as VMs grow"
                + " (--ops = guest accesses per step)";
    }

    @Override
    public ScenarioResult run(ScenarioRun run) throws Exception {
        Params p = Params.read(run.settings());
        long perStep = run.opsOr(p.accessesPerStep());
        boolean tdp = !"shadow".equals(run.mode());
        ScenarioResult result = new ScenarioResult().put("ops", perStep).put("mode", tdp ? "tdp" : "shadow");
        Map<String, Object> warmup = step(run, p, p.vmCounts().get(0), Math.max(1, perStep / 10), tdp, Double.NaN);
        result.put("scale.warmup", warmup);
        List<Map<String, Object>> steps = new ArrayList<>();
        double firstNs = Double.NaN;
        long totalAccesses = 0;
        for (int vms : p.vmCounts()) {
            Map<String, Object> s = step(run, p, vms, perStep, tdp, firstNs);
            double ns = (Double) s.get("nsPerAccess");
            if (Double.isNaN(firstNs)) {
                firstNs = ns;
                s.put("costVsFirstStep", 1.0);
            }
            totalAccesses += (Long) s.get("accesses");
            steps.add(s);
            result.line(String.format("%,5d VMs: %,11d accesses, %,12.0f accesses/s = %7.1f ns/access (%.2fx the"
                            + " first step), %,9d faults, boot+exit %,6d ms, heap peak %,5d MiB", vms,
                    s.get("accesses"), s.get("accessesPerSecond"), ns, s.get("costVsFirstStep"), s.get("faults"),
                    s.get("bootAndExitMs"), ((Long) s.get("heapPeakBytes")) >> 20));
        }
        result.put("scale.steps", steps);
        result.put("accesses", totalAccesses);
        return result;
    }

    private static Map<String, Object> step(ScenarioRun run, Params p, int vms, long accesses, boolean tdp,
                                            double firstNs) throws Exception {
        long perVm = Math.max(1, accesses / vms);
        // Host RAM: every VM may touch all of its guest RAM, plus room for page tables and the VMMs.
        long hostMemory = (long) (vms * p.guestMemory() * 1.25) + (32L << 20);
        hostMemory = (hostMemory + (1L << 20) - 1) & ~((1L << 20) - 1);
        Settings settings = Settings.withOverrides(run.settings().root(), Map.of(
                "guest.memory", Long.toString(p.guestMemory()),
                "guest.vcpus", "1",
                "host.memory", Long.toString(hostMemory),
                // A thousand VMMs exiting at once on two cores: the deadline is for hung subscribers, not queues.
                "notifier.ack-deadline", "30s"));
        ScenarioRun step = new ScenarioRun(settings, perVm * vms, run.progress(), run.oracle(), run.file(),
                run.mode());
        VmParams vp = VmParams.read(settings);
        Region region = new Region(BASE, p.workingSet());
        long seed = run.seed();
        VmCoordinator.Plan plan = new VmCoordinator.Plan(vms, 1, tdp, false,
                (vm, proc) -> WorkloadSpec.of(p.workload(), perVm, vp.writeFraction())
                        .create(region, seed * 1_000_003L + vm * 101L + proc),
                List.of(new GuestVma(region.base(), region.end(), true)), false, vp);
        HeapPeak heap = new HeapPeak();
        long t0 = System.nanoTime();
        VmCoordinator.Outcome o;
        try {
            o = VmRunner.run(step, plan, perVm * vms);
        } finally {
            heap.close();
        }
        long elapsed = System.nanoTime() - t0;
        long done = 0;
        long faults = 0;
        for (io.shadowmmu.guest.vm.VmStats s : o.vms()) {
            done += s.accesses();
            faults += s.faults();
        }
        double ns = done == 0 ? Double.NaN : (double) o.runNanos() / done;
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("vms", vms);
        s.put("accesses", done);
        s.put("runMs", o.runNanos() / 1_000_000);
        s.put("accessesPerSecond", done * 1e9 / o.runNanos());
        s.put("nsPerAccess", ns);
        s.put("costVsFirstStep", ns / firstNs);
        s.put("bootAndExitMs", (elapsed - o.runNanos()) / 1_000_000);
        s.put("faults", faults);
        s.put("heapPeakBytes", heap.peak());
        s.put("hostMemoryBytes", hostMemory);
        s.put("framesLeaked", o.audit() == null ? -1L : o.audit().leaked());
        return s;
    }

    /** Samples heap use every 20 ms and keeps the highest value seen. */
    private static final class HeapPeak implements AutoCloseable {
        private final AtomicLong peak = new AtomicLong();
        private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "heap-sampler");
            t.setDaemon(true);
            return t;
        });

        HeapPeak() {
            MemoryMXBean bean = ManagementFactory.getMemoryMXBean();
            sampler.scheduleAtFixedRate(() -> peak.accumulateAndGet(bean.getHeapMemoryUsage().getUsed(), Math::max),
                    0, 20, TimeUnit.MILLISECONDS);
        }

        long peak() {
            return peak.get();
        }

        @Override
        public void close() {
            sampler.shutdownNow();
        }
    }
}
