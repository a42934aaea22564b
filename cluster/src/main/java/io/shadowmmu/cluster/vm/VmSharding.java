package io.shadowmmu.cluster.vm;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.cluster.sharding.typed.ShardingEnvelope;
import akka.cluster.sharding.typed.ShardingMessageExtractor;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import io.shadowmmu.cluster.node.ClusterNode;

import java.util.function.Function;

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

    /**
     * Where a VM's guest RAM is imported from: segment {@code segment} of the exporter whose actor path (with its
     * node's address, as {@link akka.actor.typed.ActorRefResolver} writes it) is {@code exporterPath}.
     */
    public record RamSource(String exporterPath, long segment) {
    }

    /** How shards (one per VM) are placed on the nodes. */
    public enum Placement {
        /** Akka's default: spread over the nodes (fewest shards first), rebalanced when nodes come and go. */
        SPREAD,
        /** On the node that first sent the VM a message, never rebalanced ({@link WhereAsked}). */
        WHERE_ASKED
    }

    /**
     * VMs whose guest RAM is imported by ranges ({@code blockPages} per fetch) from the segment {@code ram} names for
     * each VM id, so guest state lives in the exporter and survives a move; {@code ram} answers null for a VM with
     * fresh local RAM. The exporter's path is resolved on this node, so its messages go over the network.
     */
    public static ActorRef<ShardingEnvelope<VmEntity.Command>> init(ClusterNode node, int guestPages,
                                                                    Function<String, RamSource> ram,
                                                                    int blockPages) {
        return init(node, guestPages, ram, blockPages, Placement.SPREAD);
    }

    /**
     * As above, placed as {@code placement} says. With {@link Placement#WHERE_ASKED} every VM is its own shard, so
     * two VMs driven from different nodes never share one.
     */
    public static ActorRef<ShardingEnvelope<VmEntity.Command>> init(ClusterNode node, int guestPages,
                                                                    Function<String, RamSource> ram,
                                                                    int blockPages, Placement placement) {
        ActorRefResolver resolver = ActorRefResolver.get(node.system());
        Entity<VmEntity.Command, ShardingEnvelope<VmEntity.Command>> entity = Entity.of(VmEntity.KEY, ctx -> {
                    RamSource source = ram.apply(ctx.getEntityId());
                    VmEntity.ImportedGuestRam imported = source == null ? null : new VmEntity.ImportedGuestRam(
                            resolver.resolveActorRef(source.exporterPath()), source.segment(), blockPages,
                            node.clusterSettings().reattachBackoff());
                    return VmEntity.create(ctx.getEntityId(), node.hostActor(), node.host().memory(), guestPages,
                            imported);
                })
                .withStopMessage(VmEntity.Stop.INSTANCE);
        if (placement == Placement.WHERE_ASKED) {
            entity = entity.withAllocationStrategy(new WhereAsked()).withMessageExtractor(new OneShardPerVm());
        }
        return ClusterSharding.get(node.system()).init(entity);
    }

    /** The shard of a VM is named after the VM. */
    private static final class OneShardPerVm
            extends ShardingMessageExtractor<ShardingEnvelope<VmEntity.Command>, VmEntity.Command> {
        @Override
        public String entityId(ShardingEnvelope<VmEntity.Command> envelope) {
            return envelope.entityId();
        }

        @Override
        public String shardId(String entityId) {
            return entityId;
        }

        @Override
        public VmEntity.Command unwrapMessage(ShardingEnvelope<VmEntity.Command> envelope) {
            return envelope.message();
        }
    }

    public static EntityRef<VmEntity.Command> vm(ClusterNode node, String id) {
        return ClusterSharding.get(node.system()).entityRefFor(VmEntity.KEY, id);
    }
}
