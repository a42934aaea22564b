package io.shadowmmu.cluster.vm;

import akka.actor.typed.ActorRef;
import akka.cluster.sharding.typed.ShardingEnvelope;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import io.shadowmmu.cluster.node.ClusterNode;

/**
 * Places VMs on the cluster's nodes with Cluster Sharding: every node that can host VMs starts the entity type with
 * its own host and memory, so a VM runs on the node its shard was allocated to, backed by that node's host-mm, and
 * moves (restarts) when shards are rebalanced or its node leaves. The hand-off stop message lets the VM's process
 * exit, so its frames go back to the node it leaves.
 */
public final class VmSharding {
    private VmSharding() {
    }

    public static ActorRef<ShardingEnvelope<VmEntity.Command>> init(ClusterNode node, int guestPages) {
        return ClusterSharding.get(node.system()).init(Entity.of(VmEntity.KEY,
                        ctx -> VmEntity.create(ctx.getEntityId(), node.hostActor(), node.host().memory(), guestPages))
                .withStopMessage(VmEntity.Stop.INSTANCE));
    }

    public static EntityRef<VmEntity.Command> vm(ClusterNode node, String id) {
        return ClusterSharding.get(node.system()).entityRefFor(VmEntity.KEY, id);
    }
}
