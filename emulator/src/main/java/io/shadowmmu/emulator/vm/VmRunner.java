package io.shadowmmu.emulator.vm;

import io.shadowmmu.emulator.report.Telemetry;
import io.shadowmmu.emulator.scenario.Awaiting;
import io.shadowmmu.emulator.scenario.ScenarioResult;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.guest.vcpu.VcpuStats;
import io.shadowmmu.guest.vm.VmStats;
import io.shadowmmu.kvm.KvmStats;
import io.shadowmmu.scenario.Scenario;
import io.shadowmmu.scenario.ScenarioBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs a {@link VmCoordinator} plan through the scenario module's builder and turns its outcome into a result. */
final class VmRunner {
    private VmRunner() {
    }

    static VmCoordinator.Outcome run(ScenarioRun run, VmCoordinator.Plan plan, long totalAccesses) throws Exception {
        LiveVms live = new LiveVms(plan.vms());
        series(run.telemetry(), live);
        run.telemetry().gauge(Telemetry.EVENTS, "violations", () -> run.oracle().total());
        try (Scenario scenario = plan.addTo(ScenarioBuilder.from(run.settings()).events(run.oracle().events())
                .publishVmStats(live::publish)).build()) {
            VmCoordinator.Outcome o = VmCoordinator.Outcome.of(Awaiting.outcome(run, scenario.start(),
                    live::accesses, totalAccesses,
                    () -> Awaiting.frames(run, scenario.host().memory().usedFrames())));
            if (o.failure() != null) {
                throw new IllegalStateException(o.failure());
            }
            run.oracle().finish(o.audit());
            return o;
        }
    }

    /** Time series of VMs: guest accesses per second, KVM faults per second, each VM's TLB hit rate. */
    static void series(Telemetry telemetry, LiveVms live) {
        telemetry.rate(Telemetry.THROUGHPUT, "guest accesses/s", live::accesses);
        telemetry.rate(Telemetry.EVENTS, "kvm faults/s", live::faults);
        for (int i = 0; i < live.vms(); i++) {
            int vm = i;
            telemetry.ratio(Telemetry.TLB_HIT_RATE, "vm" + i, () -> live.tlbHits(vm), () -> live.tlbLookups(vm));
        }
    }

    /** The per-VM and total counters every VM scenario reports. */
    static void report(ScenarioResult r, VmCoordinator.Outcome o) {
        List<Map<String, Object>> vms = new ArrayList<>();
        VcpuStats total = null;
        long i1 = 0;
        for (VmStats s : o.vms()) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("name", s.name());
            vm.put("accesses", s.accesses());
            vm.put("instructionFetches", s.total().fetches());
            Map<String, Object> tlb = new LinkedHashMap<>();
            tlb.put("hits", s.tlbHits());
            tlb.put("misses", s.tlbMisses());
            vm.put("tlb", tlb);
            Map<String, Object> itlb = new LinkedHashMap<>();
            itlb.put("hits", s.total().itlb().hits());
            itlb.put("misses", s.total().itlb().misses());
            vm.put("itlb", itlb);
            vm.put("faults", s.faults());
            vm.put("retries", s.retries());
            vm.put("flushes", s.flushes());
            vm.put("guestPageFaults", s.total().guestPageFaults());
            vm.put("guestFaults", s.total().guestFaults());
            vm.put("guestSegfaults", s.guestSegfaults());
            vm.put("i1Checks", s.total().i1Checks());
            vms.add(vm);
            total = total == null ? s.total() : total.plus(s.total());
            i1 += s.i1Violations();
        }
        r.put("vms", vms);
        long kvmFaults = 0;
        long kvmRetries = 0;
        long invalidations = 0;
        long hitLive = 0;
        long zapped = 0;
        long flushes = 0;
        long coalesced = 0;
        long trapped = 0;
        for (KvmStats k : o.kvms()) {
            kvmFaults += k.faults();
            kvmRetries += k.retries();
            invalidations += k.invalidations();
            hitLive += k.invalidationsHitLive();
            zapped += k.zapped();
            flushes += k.flushes();
            coalesced += k.flushRequestsCoalesced();
            trapped += k.ptWritesTrapped();
        }
        r.put("kvm.faults", kvmFaults).put("kvm.retries", kvmRetries).put("kvm.invalidations", invalidations)
                .put("kvm.invalidationsHitLive", hitLive).put("kvm.zapped", zapped).put("kvm.flushes", flushes)
                .put("kvm.flushesCoalesced", coalesced).put("kvm.guestPageTableWritesTrapped", trapped);
        long accesses = total == null ? 0 : total.accesses();
        long hits = total == null ? 0 : total.tlb().hits();
        long misses = total == null ? 0 : total.tlb().misses();
        r.put("accesses", accesses);
        r.line(String.format("%,d guest accesses on %d VMs: data TLB %,d hits / %,d misses (%.2f%% hit rate)",
                accesses, o.vms().size(), hits, misses, hits + misses == 0 ? 0.0 : 100.0 * hits / (hits + misses)));
        r.line(String.format("kvm: %,d exits, %,d retries (sequence check), %,d host invalidations of which %,d hit"
                + " live sptes (%,d zapped), %,d remote flush rounds (%,d coalesced)", kvmFaults, kvmRetries,
                invalidations, hitLive, zapped, flushes, coalesced));
        if (o.audit() != null) {
            r.put("host.frames.leaked", o.audit().leaked()).put("host.frames.pendingFree", o.audit().pendingFree());
            r.line(String.format("host frames: audit %s, %d leaked", o.audit().clean() ? "clean" : "FAILED",
                    o.audit().leaked()));
        }
        r.put("oracle.i1ViolationsSeenByGuests", i1);
        if (o.pressure() != null) {
            long broken = 0;
            for (io.shadowmmu.hostmm.mm.MmStats s : o.vmms()) {
                broken += s.pressure().ksmBroken();
            }
            var p = o.pressure();
            r.put("host.reclaim.scanned", p.scanned()).put("host.reclaim.evicted", p.evicted())
                    .put("host.reclaim.swappedOut", p.swappedOut()).put("host.reclaim.swappedIn", p.swappedIn())
                    .put("host.reclaim.youngFromSecondaries", p.youngFromSecondaries())
                    .put("host.migrations", p.migrations()).put("host.ksm.merged", p.ksmMerged())
                    .put("host.ksm.broken", broken);
            if (p.scanned() + p.migrations() + p.ksmMerged() > 0) {
                r.line(String.format("memory pressure: %,d scanned, %,d swapped out, %,d swapped in, %,d evicted from"
                        + " the page cache, %,d kept young by secondaries, %,d migrations, %,d KSM merges (%,d broken)",
                        p.scanned(), p.swappedOut(), p.swappedIn(), p.evicted(), p.youngFromSecondaries(),
                        p.migrations(), p.ksmMerged(), broken));
            }
        }
    }
}
