package io.shadowmmu.hostmm.mm;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.shadowmmu.hostmm.notifier.MmuNotification;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A batch of several messages to one subscriber (PER_PAGE) counts each message's reply once: a duplicated ack, which
 * a faulty link can produce, must not end the batch while another message is still unanswered.
 */
class DuplicateReplyTest {
    static ActorTestKit kit;

    @BeforeAll
    static void setUp() {
        kit = ActorTestKit.create(ConfigFactory.parseString("akka.loglevel = WARNING"));
    }

    @AfterAll
    static void tearDown() {
        kit.shutdownTestKit();
    }

    @Test
    void aDuplicatedAckDoesNotStandInForAnotherMessagesAck() {
        HostFixture h = new HostFixture(kit, Map.of("notifier.strategy", "per_page", "notifier.ack-deadline", "10s"));
        ActorRef<MmCommand> mm = h.spawn("p");
        long va = h.mmapAnon(mm, 4 * 4096);
        for (int i = 0; i < 4; i++) {
            h.write(mm, va + i * 4096L, i + 1);
        }
        HostFixture.Subscriber sub = h.subscribe(mm);
        long freeBefore = h.host.memory().freeFrames();

        TestProbe<MmResult> reply = kit.createTestProbe();
        mm.tell(new MmCommand.Munmap(va, 4 * 4096, reply.getRef()));
        List<MmuNotification.InvalidateStart> starts = new ArrayList<>();
        Set<Long> ids = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            MmuNotification.InvalidateStart s = sub.expectStart();
            starts.add(s);
            ids.add(s.batch());
        }
        assertThat(ids).as("each message of the batch has its own id").hasSize(4);

        for (int i = 0; i < 4; i++) {
            sub.ack(starts.get(0)); // the first ack, and three copies of it
        }
        reply.expectNoMessage(Duration.ofMillis(200));
        assertThat(h.host.memory().freeFrames()).as("frames freed on duplicated acks").isEqualTo(freeBefore);

        for (int i = 1; i < 4; i++) {
            sub.ack(starts.get(i));
        }
        assertThat(reply.receiveMessage().ok()).isTrue();
        assertThat(h.host.memory().freeFrames()).isEqualTo(freeBefore + 4);
        Set<Long> endIds = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            endIds.add(sub.expectEnd().batch());
        }
        assertThat(endIds).as("every end carries its start's id").isEqualTo(ids);

        TestProbe<MmStats> stats = kit.createTestProbe();
        mm.tell(new MmCommand.GetStats(stats.getRef()));
        MmStats s = stats.receiveMessage();
        assertThat(s.notifier().ignoredReplies()).isEqualTo(3);
        assertThat(s.notifier().acks()).isEqualTo(4);
        assertThat(h.audit().problems()).isEmpty();
    }
}
