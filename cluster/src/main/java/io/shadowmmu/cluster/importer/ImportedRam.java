package io.shadowmmu.cluster.importer;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.shadowmmu.cluster.protocol.ToImporter;
import io.shadowmmu.hostmm.mm.MmCommand;
import io.shadowmmu.hostmm.phys.PhysicalMemory;

/**
 * The door a VM's KVM uses to its host process when part of the guest RAM is imported: the process maps the copying
 * importer's local file ({@code MAP_SHARED}) at {@code [hva, hva + length)}, and KVM is given this actor instead of
 * the process. Everything is forwarded to the process, except a fault ({@code GetUserPage}) or an access inside the
 * imported window, which goes to the importer first: it forwards it once the page's copy is in the local page cache
 * (fetching it from the exporting node if not), so the process never reads in a page the importer has not filled.
 * Registration and the notifications go straight between KVM and the process, so KVM is an ordinary local
 * subscriber: when the exporter invalidates, the importer unmaps the file's pages from the process, which zaps
 * KVM's sptes and waits for its TLB flushes before the importer writes back and acks.
 */
public final class ImportedRam {
    private ImportedRam() {
    }

    public static Behavior<MmCommand> create(ActorRef<MmCommand> process, ActorRef<ToImporter> importer,
                                             long hva, long length) {
        return Behaviors.setup(ctx -> {
            importer.tell(new Importer.MappedBy(process, hva));
            return Behaviors.receiveMessage(m -> {
                long va = m instanceof MmCommand.GetUserPage ? ((MmCommand.GetUserPage) m).va()
                        : m instanceof MmCommand.Access ? ((MmCommand.Access) m).va() : -1;
                if (va >= hva && va < hva + length) {
                    importer.tell(new Importer.LocalFault((va - hva) & ~(PhysicalMemory.PAGE_SIZE - 1), m));
                } else {
                    process.tell(m);
                }
                return Behaviors.same();
            });
        });
    }
}
