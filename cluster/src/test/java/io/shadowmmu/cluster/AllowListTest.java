package io.shadowmmu.cluster;

import akka.actor.typed.ActorRef;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializers;
import io.shadowmmu.cluster.exporter.Exporter;
import io.shadowmmu.cluster.protocol.ToExporter;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.cluster.protocol.ToProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Only records marked CrossNode cross nodes, as CBOR; anything else is refused by serialization (Java serialization
 * is off) and never delivered, and a manifest naming a class outside the bindings is refused when read.
 */
class AllowListTest {
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        TestNode[] nodes = TestNode.cluster(2, TestNode.clusterSettings(Duration.ofSeconds(1)));
        a = nodes[0];
        b = nodes[1];
    }

    @AfterAll
    static void stop() {
        TestNode.closeAll(b, a);
    }

    @Test
    void crossNodeRecordsUseJacksonCborAndRoundTrip() {
        Serialization s = SerializationExtension.get(akka.actor.typed.javadsl.Adapter.toClassic(a.node.system()));
        ToImporter.Invalidate msg = new ToImporter.Invalidate(7, 3,
                List.of(new io.shadowmmu.cluster.protocol.Span(4096, 8192)));
        var serializer = s.findSerializerFor(msg);
        assertThat(serializer.getClass().getName()).isEqualTo("akka.serialization.jackson.JacksonCborSerializer");
        byte[] bytes = s.serialize(msg).get();
        Object back = s.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, msg)).get();
        assertThat(back).isEqualTo(msg);
    }

    @Test
    void aLocalOnlyMessageSentToAnotherNodeIsRejectedAndNotDelivered() {
        ActorRef<ToExporter> remoteExporter = b.findExporter(a);
        var probe = b.<Exporter.Exported>probe();
        // Export is a local command of the exporter (it carries a local mm reference): it has no binding.
        Exporter.Export local = new Exporter.Export(b.node.system().ignoreRef(), 1, 0, 4096, true, probe.getRef());
        Serialization s = SerializationExtension.get(akka.actor.typed.javadsl.Adapter.toClassic(b.node.system()));
        assertThat(s.serialize(local).isFailure()).isTrue();
        assertThat(s.serialize(local).failed().get()).isInstanceOf(java.io.NotSerializableException.class);

        remoteExporter.tell(local);
        probe.expectNoMessage(Duration.ofSeconds(1));
        // The link is still up: an allowed message right after it is delivered.
        var reply = b.<ToImporter>probe();
        remoteExporter.tell(new ToExporter.Attach(999, reply.getRef()));
        assertThat(reply.receiveMessage(TestNode.WAIT)).isInstanceOf(ToImporter.AttachRefused.class);
    }

    @Test
    void aManifestNamingAClassOutsideTheBindingsIsRefusedWhenRead() {
        Serialization s = SerializationExtension.get(akka.actor.typed.javadsl.Adapter.toClassic(a.node.system()));
        ToProxy.Detach allowed = new ToProxy.Detach(1);
        var serializer = s.findSerializerFor(allowed);
        byte[] bytes = s.serialize(allowed).get();
        // Same bytes, but the manifest names a class that is not CrossNode (a gadget-style substitution).
        var refused = s.deserialize(bytes, serializer.identifier(), "java.util.concurrent.atomic.AtomicLong");
        assertThat(refused.isFailure()).isTrue();
        assertThat(refused.failed().get().getMessage()).contains("AtomicLong");
        var local = s.deserialize(bytes, serializer.identifier(), Exporter.Export.class.getName());
        assertThat(local.isFailure()).isTrue();
    }
}
