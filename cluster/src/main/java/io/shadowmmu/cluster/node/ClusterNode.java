package io.shadowmmu.cluster.node;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.exporter.ExporterCounters;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.config.Settings;
import io.shadowmmu.hostmm.events.CoherenceEvents;
import io.shadowmmu.hostmm.host.HostActor;
import io.shadowmmu.hostmm.host.HostCommand;
import io.shadowmmu.hostmm.host.HostContext;

/**
 * One node of the cluster: an actor system that is also an emulated host, with its own physical memory, host
 * processes and exporter. Tests and scenarios start several in one JVM (each with its own oracle, since frames are
 * per node); the CLI's {@code node} command starts one per JVM.
 */
public final class ClusterNode implements AutoCloseable {
    private final ActorSystem<Void> system;
    private final HostContext host;
    private final ActorRef<HostCommand> hostActor;
    private final ActorRef<ToExporter> exporter;
    private final ExporterCounters counters;
    private final ClusterSettings clusterSettings;

    private ClusterNode(ActorSystem<Void> system, HostContext host, ActorRef<HostCommand> hostActor,
                        ActorRef<ToExporter> exporter, ExporterCounters counters, ClusterSettings clusterSettings) {
        this.system = system;
        this.host = host;
        this.hostActor = hostActor;
        this.exporter = exporter;
        this.counters = counters;
        this.clusterSettings = clusterSettings;
    }

    /** Starts the node and begins joining its seed nodes (joining completes asynchronously). */
    public static ClusterNode start(NodeOptions options, Settings settings, CoherenceEvents events) {
        ClusterSettings cs = ClusterSettings.read(settings);
        return start(options, settings, cs, events);
    }

    public static ClusterNode start(NodeOptions options, Settings settings, ClusterSettings cs,
                                    CoherenceEvents events) {
        HostContext host = HostContext.create(settings, events);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), NodeConfig.SYSTEM_NAME,
                NodeConfig.of(options, settings.root()));
        ExporterCounters counters = new ExporterCounters();
        ActorRef<HostCommand> hostActor = system.systemActorOf(HostActor.create(host), "host", Props.empty());
        ActorRef<ToExporter> exporter = system.systemActorOf(Exporter.create(host.memory(), counters, cs),
                "exporter", Props.empty());
        return new ClusterNode(system, host, hostActor, exporter, counters, cs);
    }

    /** Forms a new cluster of this node alone (when it has no seed nodes). */
    public void joinSelf() {
        cluster().manager().tell(akka.cluster.typed.Join.create(cluster().selfMember().address()));
    }

    /** Joins the cluster {@code other} is a member of. */
    public void join(ClusterNode other) {
        cluster().manager().tell(akka.cluster.typed.Join.create(other.cluster().selfMember().address()));
    }

    /** Whether this node sees itself and {@code count - 1} others as Up. */
    public boolean seesUp(int count) {
        int up = 0;
        for (akka.cluster.Member m : cluster().state().getMembers()) {
            if (m.status() == akka.cluster.MemberStatus.up()) {
                up++;
            }
        }
        return up == count;
    }

    /** Starts an actor on this node (importers, drivers). */
    public <T> ActorRef<T> spawn(Behavior<T> behavior, String name) {
        return system.systemActorOf(behavior, name, Props.empty());
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public Cluster cluster() {
        return Cluster.get(system);
    }

    /** {@code host:port} this node listens on. */
    public String hostPort() {
        return system.address().getHost().get() + ":" + system.address().getPort().get();
    }

    public HostContext host() {
        return host;
    }

    public ActorRef<HostCommand> hostActor() {
        return hostActor;
    }

    public ActorRef<ToExporter> exporter() {
        return exporter;
    }

    public ExporterCounters counters() {
        return counters;
    }

    public ClusterSettings clusterSettings() {
        return clusterSettings;
    }

    /** Leaves the cluster and stops (coordinated shutdown: the others see MemberRemoved). */
    @Override
    public void close() {
        system.terminate();
    }
}
