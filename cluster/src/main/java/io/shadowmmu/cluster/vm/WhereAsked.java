package io.shadowmmu.cluster.vm;

import akka.actor.ActorRef;
import akka.cluster.sharding.ShardCoordinator;
import akka.dispatch.Futures;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

import java.util.Map;
import java.util.Set;

/**
 * A shard allocation that puts a shard on the node whose region first asked for it (the node that first sent its
 * entity a message), and never rebalances: a VM driven from one node runs there, so its accesses stay local. A
 * requester that hosts no shards (a proxy, or a region on its way out) gets the region with the fewest shards.
 */
final class WhereAsked extends ShardCoordinator.AbstractShardAllocationStrategy {

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
                                          Map<ActorRef, IndexedSeq<String>> current) {
        if (current.containsKey(requester)) {
            return Futures.successful(requester);
        }
        ActorRef least = null;
        int fewest = Integer.MAX_VALUE;
        for (Map.Entry<ActorRef, IndexedSeq<String>> e : current.entrySet()) {
            if (e.getValue().size() < fewest) {
                fewest = e.getValue().size();
                least = e.getKey();
            }
        }
        return Futures.successful(least != null ? least : requester);
    }

    @Override
    public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
        return Futures.successful(Set.of());
    }
}
