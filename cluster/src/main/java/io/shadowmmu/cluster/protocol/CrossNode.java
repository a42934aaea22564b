package io.shadowmmu.cluster.protocol;

/**
 * Marks a message that may cross nodes. The cluster module's reference.conf binds this interface (and nothing else)
 * to Akka's {@code jackson-cbor} serializer; Java serialization is off, so a message without it cannot leave its
 * node. Implementations are records of plain values and actor references.
 */
public interface CrossNode {
}
