package io.shadowmmu.cluster;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.receptionist.Receptionist;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.cluster.node.NodeOptions;
import io.shadowmmu.cluster.protocol.AccessResult;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.Variant;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.mm.MmResult;
import io.shadowmmu.hostmm.vma.Protection;
import io.shadowmmu.scenario.oracle.CoherenceOracle;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** One node of a test cluster on loopback, with its own oracle, and the steps tests take on it. */
final class TestNode implements AutoCloseable {
    static final long PAGE = 4096;
    static final Duration WAIT = Duration.ofSeconds(20);

    final ClusterNode node;
    final CoherenceOracle oracle;

    private TestNode(ClusterNode node, CoherenceOracle oracle) {
        this.node = node;
        this.oracle = oracle;
    }

    static Settings settings() {
        // One host batch per operation: these tests count what the exporter does with each (its own queueing and
        // in-flight window), so GATHER's coalescing on the host (D88) would change what they count.
        return Settings.withOverrides(Map.of("host.memory", "16m", "reclaim.enabled", "off",
                "notifier.coalesce", "off"));
    }

    static TestNode start(ClusterSettings cs) {
        return start(cs, NodeOptions.loopback(0, List.of()));
    }

    static TestNode start(ClusterSettings cs, NodeOptions options) {
        return start(cs, options, settings());
    }

    static TestNode start(ClusterSettings cs, NodeOptions options, Settings settings) {
        CoherenceOracle oracle = new CoherenceOracle(settings.oracle());
        return new TestNode(ClusterNode.start(options, settings, cs, oracle), oracle);
    }

    static ClusterSettings clusterSettings(Duration ackDeadline) {
        return ClusterSettings.read(settings()).withAckDeadline(ackDeadline);
    }

    /** Starts {@code n} nodes, the first forming the cluster, and waits until every one sees all Up. */
    static TestNode[] cluster(int n, ClusterSettings cs) {
        TestNode[] nodes = new TestNode[n];
        for (int i = 0; i < n; i++) {
            nodes[i] = start(cs);
            if (i == 0) {
                nodes[0].node.joinSelf();
            } else {
                nodes[i].node.join(nodes[0].node);
            }
        }
        for (TestNode t : nodes) {
            t.awaitUp(n);
        }
        return nodes;
    }

    void awaitUp(int count) {
        await(() -> node.seesUp(count), "node " + node.hostPort() + " sees " + count + " members up");
    }

    void await(BooleanSupplier condition, String what) {
        TestProbe<Object> probe = TestProbe.create(node.system());
        probe.awaitAssert(WAIT, Duration.ofMillis(50), () -> {
            assertThat(condition.getAsBoolean()).as(what).isTrue();
            return null;
        });
    }

    <T> TestProbe<T> probe() {
        return TestProbe.create(node.system());
    }

    /** A host process with {@code pages} of private anonymous read-write memory. */
    Process spawnProcess(String name, int pages) {
        TestProbe<HostCommand.ProcessSpawned> spawned = probe();
        node.hostActor().tell(new HostCommand.SpawnProcess(name, spawned.getRef()));
        HostCommand.ProcessSpawned p = spawned.receiveMessage(WAIT);
        TestProbe<MmResult> r = probe();
        p.process().tell(MmCommand.Mmap.anonymous(pages * PAGE, Protection.READ_WRITE, r.getRef()));
        long start = ((MmResult.Done) r.receiveMessage(WAIT)).value();
        return new Process(this, p.mm(), p.process(), start, pages);
    }

    long export(Process p, boolean writable) {
        TestProbe<Exporter.Exported> r = probe();
        node.exporter().tell(new Exporter.Export(p.ref(), p.mm(), p.start(), p.pages() * PAGE, writable,
                r.getRef()));
        Exporter.Exported e = r.receiveMessage(WAIT);
        assertThat(e.error()).isNull();
        return e.segment();
    }

    /** The exporter of {@code owner}, as this node's receptionist lists it. */
    ActorRef<ToExporter> findExporter(TestNode owner) {
        TestProbe<Receptionist.Listing> listing = probe();
        akka.actor.Address address = owner.node.system().address();
        ActorRef<ToExporter>[] found = new ActorRef[1];
        listing.awaitAssert(WAIT, Duration.ofMillis(100), () -> {
            node.system().receptionist().tell(Receptionist.find(Exporter.KEY, listing.getRef()));
            for (ActorRef<ToExporter> ref : listing.receiveMessage().getServiceInstances(Exporter.KEY)) {
                if (ref.path().address().equals(address)) {
                    found[0] = ref;
                }
            }
            assertThat(found[0]).as("exporter of " + address + " listed on " + node.hostPort()).isNotNull();
            return null;
        });
        return found[0];
    }

    ActorRef<ToImporter> importer(TestNode owner, long segment, Duration ackDelay, String name, Variant variant) {
        ActorRef<ToImporter> imp = node.spawn(Importer.create(findExporter(owner), segment, ackDelay,
                Duration.ofMillis(20), variant), name);
        awaitAttached(imp, 1);
        return imp;
    }

    Importer.Stats stats(ActorRef<ToImporter> importer) {
        TestProbe<Importer.Stats> s = probe();
        importer.tell(new Importer.GetStats(s.getRef()));
        return s.receiveMessage(WAIT);
    }

    void awaitAttached(ActorRef<ToImporter> importer, long attaches) {
        TestProbe<Importer.Stats> s = probe();
        s.awaitAssert(WAIT, Duration.ofMillis(20), () -> {
            importer.tell(new Importer.GetStats(s.getRef()));
            Importer.Stats st = s.receiveMessage();
            assertThat(st.attached()).as("attached").isTrue();
            assertThat(st.attaches()).as("attaches").isGreaterThanOrEqualTo(attaches);
            return null;
        });
    }

    AccessResult access(ActorRef<ToImporter> importer, long offset, boolean write, long value) {
        TestProbe<AccessResult> r = probe();
        importer.tell(new Importer.Access(offset, write, value, r.getRef()));
        return r.receiveMessage(WAIT);
    }

    HostCommand.AuditReport audit() {
        TestProbe<HostCommand.AuditReport> r = probe();
        node.hostActor().tell(new HostCommand.Audit(r.getRef()));
        return r.receiveMessage(WAIT);
    }

    void assertClean() {
        assertThat(oracle.violations()).as("oracle of " + node.hostPort()).isEmpty();
    }

    @Override
    public void close() {
        closeAll(this);
    }

    /** Stops the nodes together (each leaves the cluster) and waits until all are gone. */
    static void closeAll(TestNode... nodes) {
        for (TestNode n : nodes) {
            if (n != null) {
                n.node.close();
            }
        }
        for (TestNode n : nodes) {
            if (n != null) {
                n.node.system().getWhenTerminated().toCompletableFuture()
                        .orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();
            }
        }
    }

    /** A host process of a test node and the memory it mapped. */
    record Process(TestNode node, long mm, ActorRef<MmCommand> ref, long start, int pages) {
        long write(int page, int word, long value) {
            return call(new MmCommand.Access(start + page * PAGE + word * 8L, true, value, null));
        }

        long read(int page, int word) {
            return call(new MmCommand.Access(start + page * PAGE + word * 8L, false, 0, null));
        }

        long call(MmCommand.Access a) {
            TestProbe<MmResult> r = node.probe();
            ref.tell(new MmCommand.Access(a.va(), a.write(), a.value(), r.getRef()));
            return ((MmResult.Done) r.receiveMessage(WAIT)).value();
        }

        /** madvise(DONTNEED) of {@code count} pages from {@code page}; returns once every subscriber dropped them. */
        MmResult dontneed(int page, int count) {
            TestProbe<MmResult> r = node.probe();
            ref.tell(new MmCommand.MadviseDontneed(start + page * PAGE, count * PAGE, r.getRef()));
            return r.receiveMessage(WAIT);
        }
    }
}
