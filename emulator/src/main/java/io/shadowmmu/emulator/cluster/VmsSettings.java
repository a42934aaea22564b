package io.shadowmmu.emulator.cluster;

import io.shadowmmu.config.ConfigReader;

import java.time.Duration;

/**
 * {@code shadowmmu.cluster.vms-scenario}: see the cluster module's reference.conf.
 *
 * @param leave           the last node goes halfway through ({@code kill}: it crashes instead of leaving)
 * @param importedRam     every VM's guest RAM is a segment exported by node 1's processes, imported by ranges
 * @param migrateInterval with imported RAM, node 1 migrates one VM's RAM this often (zero: never)
 */
record VmsSettings(int nodes, int vms, int guestPages, boolean leave, boolean kill, boolean importedRam,
                   int blockPages, Duration migrateInterval, Driver driver, long defaultOps, int gruDevices,
                   int gruPages, long gruInstructions) {

    /** Where the guest accesses come from. */
    enum Driver {
        /** One driver per node, over the VMs placed on that node (placement where first asked): scale-out. */
        PER_NODE,
        /** One driver on the first node for every VM, spread by sharding's default: placement cost. */
        FIRST_NODE
    }

    static VmsSettings read(io.shadowmmu.config.Settings settings) {
        ConfigReader r = settings.reader().section("cluster.vms-scenario");
        int nodes = r.intBetween("nodes", 1, 9);
        boolean leave = r.getBoolean("leave");
        if (leave && nodes < 2) {
            throw r.fail("leave", "needs at least two nodes (set leave = off for one)");
        }
        boolean kill = r.getBoolean("kill");
        if (kill && (!leave || nodes < 3)) {
            // keep-majority downs the killed node only when the others are a majority.
            throw r.fail("kill", "needs leave = on and at least three nodes");
        }
        return new VmsSettings(nodes, r.intBetween("vms", 1, 256), r.intBetween("guest-pages", 1, 1 << 16), leave,
                kill, r.getBoolean("imported-ram"), r.intBetween("imported-block-pages", 1, 1 << 16),
                r.duration("imported-migrate-interval", Duration.ZERO, Duration.ofMinutes(1)),
                r.enumValue("driver", Driver.class), r.longAtLeast("default-ops", 1),
                r.intBetween("gru-devices", 0, 256), r.intBetween("gru-pages", 1, 1 << 16),
                r.longAtLeast("gru-instructions", 1));
    }
}
