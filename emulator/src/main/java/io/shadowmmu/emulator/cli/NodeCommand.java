package io.shadowmmu.emulator.cli;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.gru.GruEntity;
import io.shadowmmu.cluster.gru.GruSharding;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeConfig;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.node.RemoteImport;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.cluster.vm.VmEntity;
import io.shadowmmu.cluster.vm.VmSharding;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import io.shadowmmu.emulator.Main;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code shadowmmu node}: one cluster node (an emulated host with an exporter) in this JVM, until stopped. It may
 * export a demo segment of one of its processes and import segments of other nodes. The set-up asks and the wait
 * for the node to end block the command's own main thread (never an actor's), each ask bounded by its timeout.
 */
@Command(name = "node", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run one cluster node: an emulated host whose processes' memory other nodes can import.")
public final class NodeCommand implements java.util.concurrent.Callable<Integer> {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final long PAGE = 4096;

    @Option(names = "--port", paramLabel = "P", description = "Port to listen on; 0 = any (default: ${DEFAULT-VALUE}).")
    int port = 2551;

    @Option(names = "--hostname", paramLabel = "HOST",
            description = "Address to bind and advertise (default: ${DEFAULT-VALUE}, loopback only).")
    String hostname = NodeOptions.LOOPBACK;

    @Option(names = "--seed-nodes", paramLabel = "HOST:PORT", split = ",",
            description = "Seed nodes to join; none: this node starts a new cluster.")
    List<String> seedNodes = new ArrayList<>();

    @Option(names = "--export-pages", paramLabel = "N",
            description = "Start a process with N pages (word 0 of page i holds i) and export them (0: none).")
    int exportPages;

    @Option(names = "--import", paramLabel = "SEGMENT@HOST:PORT",
            description = "Attach segment SEGMENT of the node at HOST:PORT and read word 0 of each page. Repeatable.")
    List<String> imports = new ArrayList<>();

    @Option(names = "--import-ack-delay", paramLabel = "DURATION",
            description = "Importers sleep this long before acknowledging invalidations, e.g. 60s (default: 0).")
    String importAckDelay = "0s";

    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "Run remoting over TLS with this keystore.")
    Path tlsKeyStore;

    @Option(names = "--tls-truststore", paramLabel = "FILE", description = "Truststore for TLS (with --tls-keystore).")
    Path tlsTrustStore;

    @Option(names = "--tls-password", paramLabel = "PASSWORD", description = "Password of both stores.")
    String tlsPassword;

    @Option(names = "--host-vms",
            description = "Host VMs placed by Cluster Sharding on this node (guest RAM: cluster.vms-scenario.guest-pages).")
    boolean hostVms;

    @Option(names = "--host-gru",
            description = "Host GRU devices placed by Cluster Sharding on this node (each job maps"
                    + " cluster.vms-scenario.gru-pages pages).")
    boolean hostGru;

    @Option(names = "--await-members", paramLabel = "N",
            description = "Before touching VMs or GRU devices, wait until N members are up (default: ${DEFAULT-VALUE}).")
    int awaitMembers = 1;

    @Option(names = "--touch-vms", paramLabel = "N",
            description = "Write then read word 0 of guest page 1 of VMs vm-0 .. vm-N-1 through sharding, printing"
                    + " the node each runs on (with --host-vms on some node).")
    int touchVms;

    @Option(names = "--touch-gru", paramLabel = "N",
            description = "Run one checked job (cluster.vms-scenario.gru-instructions) on GRU devices gru-0 .. gru-N-1"
                    + " through sharding, printing the node each runs on (with --host-gru on some node).")
    int touchGru;

    @Option(names = "--run-for", paramLabel = "SECONDS", description = "Stop after this long (default: until killed).")
    long runForSeconds;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a setting (keys relative to shadowmmu).")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        Settings settings;
        ClusterSettings cs;
        Duration ackDelay;
        try {
            settings = Settings.withOverrides(overrides);
            cs = ClusterSettings.read(settings);
            ackDelay = parseDuration(importAckDelay);
        } catch (SettingsException | IllegalArgumentException e) {
            return usage(e.getMessage());
        }
        NodeOptions options = new NodeOptions(hostname, port, seedNodes, null, Duration.ofSeconds(5),
                Duration.ofSeconds(3));
        if (tlsKeyStore != null || tlsTrustStore != null) {
            if (tlsKeyStore == null || tlsTrustStore == null || tlsPassword == null) {
                return usage("--tls-keystore, --tls-truststore and --tls-password go together");
            }
            options = options.withTls(new NodeOptions.Tls(tlsKeyStore, tlsTrustStore, tlsPassword));
        }
        List<Import> wanted = new ArrayList<>();
        for (String spec : imports) {
            Import i = Import.parse(spec);
            if (i == null) {
                return usage("--import " + spec + ": expected SEGMENT@HOST:PORT, e.g. 1@127.0.0.1:2551");
            }
            wanted.add(i);
        }
        ClusterNode node = ClusterNode.start(options, settings, cs, CoherenceEvents.NONE);
        try {
            if (seedNodes.isEmpty()) {
                node.joinSelf();
            }
            System.out.println("node up: akka://" + NodeConfig.SYSTEM_NAME + "@" + node.hostPort()
                    + (tlsKeyStore != null ? " (TLS)" : ""));
            if (exportPages > 0) {
                System.out.println("exported segment " + export(node, exportPages) + " (" + exportPages
                        + " pages)");
            }
            for (Import i : wanted) {
                importAndRead(node, i, ackDelay, cs, settings);
            }
            if (hostVms) {
                VmSharding.init(node, settings.reader().section("cluster.vms-scenario").intBetween("guest-pages", 1,
                        1 << 16));
                System.out.println("hosting VMs");
            }
            if (hostGru) {
                GruSharding.init(node, settings.reader().section("cluster.vms-scenario").intBetween("gru-pages", 1,
                        1 << 16));
                System.out.println("hosting GRU devices");
            }
            if (touchVms > 0) {
                touchVms(node);
            }
            if (touchGru > 0) {
                touchGru(node, settings.reader().section("cluster.vms-scenario").longAtLeast("gru-instructions", 1));
            }
            System.out.flush();
            CompletableFuture<?> terminated = node.system().getWhenTerminated().toCompletableFuture();
            if (runForSeconds > 0) {
                terminated.completeOnTimeout(null, runForSeconds, TimeUnit.SECONDS).get();
            } else {
                terminated.get();
            }
        } finally {
            node.close();
            node.system().getWhenTerminated().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
        }
        return 0;
    }

    /** On the command's own thread: waits for the members, then one write and one read per VM. */
    private void touchVms(ClusterNode node) throws Exception {
        awaitMembers(node);
        for (int v = 0; v < touchVms; v++) {
            long value = 1000 + v;
            var vm = VmSharding.vm(node, "vm-" + v);
            vm.<VmEntity.Touched>ask(r -> new VmEntity.Touch(1, 0, true, value, r), STEP).toCompletableFuture()
                    .get(STEP.toSeconds(), TimeUnit.SECONDS);
            VmEntity.Touched read = vm.<VmEntity.Touched>ask(r -> new VmEntity.Touch(1, 0, false, 0, r), STEP)
                    .toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            System.out.println("vm " + read.vm() + " on " + read.node() + " read " + read.value()
                    + (read.error() != null ? " error " + read.error() : ""));
        }
        System.out.flush();
    }

    /** On the command's own thread: waits for the members, then one checked job per GRU device. */
    private void touchGru(ClusterNode node, long instructions) throws Exception {
        awaitMembers(node);
        for (int g = 0; g < touchGru; g++) {
            long seed = g;
            GruEntity.Ran ran = GruSharding.gru(node, "gru-" + g).<GruEntity.Ran>ask(
                    r -> new GruEntity.Run(instructions, seed, r), STEP).toCompletableFuture()
                    .get(STEP.toSeconds(), TimeUnit.SECONDS);
            System.out.println("gru " + ran.gru() + " on " + ran.node() + " ran " + ran.instructions()
                    + " instructions, " + ran.checkedReads() + " reads checked, " + ran.staleReads() + " stale"
                    + (ran.error() != null ? " error " + ran.error() : ""));
        }
        System.out.flush();
    }

    private void awaitMembers(ClusterNode node) throws Exception {
        long end = System.nanoTime() + STEP.toNanos();
        while (!node.seesUp(awaitMembers)) {
            if (System.nanoTime() > end) {
                throw new java.util.concurrent.TimeoutException(awaitMembers + " members not up within " + STEP);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
        }
    }

    private static long export(ClusterNode n, int pages) throws Exception {
        HostCommand.ProcessSpawned p = AskPattern.<HostCommand, HostCommand.ProcessSpawned>ask(n.hostActor(),
                r -> new HostCommand.SpawnProcess("exporter", r), STEP, n.system().scheduler())
                .toCompletableFuture().get();
        long start = ((MmResult.Done) AskPattern.<MmCommand, MmResult>ask(p.process(),
                r -> MmCommand.Mmap.anonymous(pages * PAGE, Protection.READ_WRITE, r), STEP,
                n.system().scheduler()).toCompletableFuture().get()).value();
        for (int page = 0; page < pages; page++) {
            long va = start + page * PAGE;
            long value = page;
            AskPattern.<MmCommand, MmResult>ask(p.process(), r -> new MmCommand.Access(va, true, value, r), STEP,
                    n.system().scheduler()).toCompletableFuture().get();
        }
        Exporter.Exported e = AskPattern.<ToExporter, Exporter.Exported>ask(n.exporter(),
                r -> new Exporter.Export(p.process(), p.mm(), start, pages * PAGE, true, r), STEP,
                n.system().scheduler()).toCompletableFuture().get();
        return e.segment();
    }

    private static void importAndRead(ClusterNode n, Import i, Duration ackDelay, ClusterSettings cs,
                                      Settings settings) throws Exception {
        CompletableFuture<ActorRef<ToImporter>> started = new CompletableFuture<>();
        n.spawn(RemoteImport.create(new Address("akka", NodeConfig.SYSTEM_NAME, i.host(), i.port()), i.segment(),
                ackDelay, cs, settings.variant(), started), "import-" + i.segment() + "-" + i.port());
        ActorRef<ToImporter> imp = started.get(STEP.toSeconds(), TimeUnit.SECONDS);
        long deadline = System.nanoTime() + STEP.toNanos();
        int pages = 0;
        List<Long> values = new ArrayList<>();
        while (true) {
            long offset = pages * PAGE;
            AccessResult r = AskPattern.<ToImporter, AccessResult>ask(imp,
                    to -> new Importer.Access(offset, false, 0, to), STEP, n.system().scheduler())
                    .toCompletableFuture().get();
            if (r.ok()) {
                values.add(r.value());
                pages++;
            } else if (r.refused().contains("outside segment")) {
                break;
            } else if (System.nanoTime() > deadline) {
                throw new IllegalStateException("segment " + i.segment() + ": " + r.refused());
            } else {
                java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L); // not attached yet
            }
        }
        System.out.println("imported segment " + i.segment() + " from " + i.host() + ":" + i.port() + ": "
                + pages + " pages, word 0 = " + values);
    }

    private static Duration parseDuration(String text) {
        try {
            return com.typesafe.config.ConfigFactory.parseString("d = " + text).getDuration("d");
        } catch (com.typesafe.config.ConfigException e) {
            throw new IllegalArgumentException("--import-ack-delay " + text + ": not a duration (e.g. 500ms, 60s)");
        }
    }

    private static int usage(String message) {
        System.err.println("shadowmmu node: " + message);
        return Main.EXIT_USAGE;
    }

    private record Import(long segment, String host, int port) {
        static Import parse(String spec) {
            int at = spec.indexOf('@');
            int colon = spec.lastIndexOf(':');
            if (at <= 0 || colon < at) {
                return null;
            }
            try {
                return new Import(Long.parseLong(spec.substring(0, at)), spec.substring(at + 1, colon),
                        Integer.parseInt(spec.substring(colon + 1)));
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
