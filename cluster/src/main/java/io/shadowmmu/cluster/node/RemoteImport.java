package io.shadowmmu.cluster.node;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.shadowmmu.cluster.ClusterSettings;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.importer.Importer;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.config.Variant;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Waits until the Receptionist lists the exporter of the node at {@code address}, then starts an {@link Importer}
 * of {@code segment} on it and hands its reference to {@code started}. How a node attaches a segment of a node it
 * knows only by address (the CLI's {@code node --import}).
 */
public final class RemoteImport {
    private RemoteImport() {
    }

    public static Behavior<Receptionist.Listing> create(Address address, long segment, Duration ackDelay,
                                                       ClusterSettings settings, Variant variant,
                                                       CompletableFuture<ActorRef<ToImporter>> started) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(Exporter.KEY, ctx.getSelf()));
            return Behaviors.receive(Receptionist.Listing.class)
                    .onMessage(Receptionist.Listing.class, listing -> {
                        for (ActorRef<ToExporter> ref : listing.getServiceInstances(Exporter.KEY)) {
                            if (ref.path().address().equals(address)) {
                                started.complete(ctx.spawn(Importer.create(ref, segment, ackDelay,
                                        settings.reattachBackoff(), variant), "segment-" + segment));
                                return Behaviors.receive(Receptionist.Listing.class).build(); // the importer lives on
                            }
                        }
                        return Behaviors.same();
                    })
                    .build();
        });
    }
}
