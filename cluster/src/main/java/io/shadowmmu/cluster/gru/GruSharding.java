package io.shadowmmu.cluster.gru;

import akka.actor.typed.ActorRef;
import akka.cluster.sharding.typed.ShardingEnvelope;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import io.shadowmmu.cluster.node.ClusterNode;
import io.shadowmmu.gru.GruSettings;

/**
 * Places GRU devices (each with its user process) on the cluster's nodes with Cluster Sharding, as
 * {@link io.shadowmmu.cluster.vm.VmSharding} places VMs: every node that can host devices starts the entity type
 * with its own host and memory; a device moves (restarts, with a new process) when its node leaves.
 */
public final class GruSharding {
    private GruSharding() {
    }

    /** {@code regionPages}: the fresh anonymous memory each job of a device's user process maps. */
    public static ActorRef<ShardingEnvelope<GruEntity.Command>> init(ClusterNode node, int regionPages) {
        GruSettings gru = GruSettings.read(node.host().settings());
        return ClusterSharding.get(node.system()).init(Entity.of(GruEntity.KEY,
                        ctx -> GruEntity.create(ctx.getEntityId(), node.hostActor(), node.host().memory(), gru,
                                regionPages))
                .withStopMessage(GruEntity.Stop.INSTANCE));
    }

    public static EntityRef<GruEntity.Command> gru(ClusterNode node, String id) {
        return ClusterSharding.get(node.system()).entityRefFor(GruEntity.KEY, id);
    }
}
