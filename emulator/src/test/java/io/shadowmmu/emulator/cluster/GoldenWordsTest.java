package io.shadowmmu.emulator.cluster;

import io.shadowmmu.cluster.protocol.AccessResult;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The import driver's golden copy, forced step by step: a write that came back (the copy dropped unwritten, fetched
 * again) is caught; what legitimately changes a word (a discard, a fence, a write in flight) is not checked.
 */
class GoldenWordsTest {
    private static final long OFFSET = 8 * 3;
    private static final long ATTACHMENT = 7;

    private final Discards discards = new Discards(4);
    private final GoldenWords golden = new GoldenWords(discards);

    private void wrote(long value) {
        GoldenWords.Ticket w = golden.writeSent(OFFSET, value);
        golden.writeAnswered(w, AccessResult.ok(OFFSET, value, ATTACHMENT));
    }

    private GoldenWords.Verdict read(long found, long attachment) {
        GoldenWords.Ticket r = golden.readSent(OFFSET);
        return golden.readAnswered(r, AccessResult.ok(OFFSET, found, attachment));
    }

    @Test
    void aReadOfTheLastWriteMatchesAndAnOlderValueIsALostWrite() {
        wrote(41);
        wrote(42);
        assertThat(read(42, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.MATCHES);
        // What a copy dropped without its write-back reads as, fetched again: the exporter's older value.
        assertThat(read(41, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.STALE);
        assertThat(read(41, ATTACHMENT)).as("reported once").isEqualTo(GoldenWords.Verdict.UNCHECKED);
    }

    @Test
    void aWordNeverWrittenOrOnlyRefusedIsNotChecked() {
        assertThat(read(5, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.UNCHECKED);
        GoldenWords.Ticket w = golden.writeSent(OFFSET, 9);
        golden.writeAnswered(w, AccessResult.refused(OFFSET, "segment 1 attachment 7 was fenced"));
        assertThat(read(0, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.UNCHECKED);
    }

    @Test
    void aDiscardOfThePageSinceTheWriteIsNotALostWrite() {
        wrote(42);
        discards.begin(0, 1);
        assertThat(read(0, ATTACHMENT)).as("during the discard").isEqualTo(GoldenWords.Verdict.UNCHECKED);
        discards.end(0, 1);
        assertThat(read(0, ATTACHMENT)).as("after it").isEqualTo(GoldenWords.Verdict.UNCHECKED);
        wrote(43);
        assertThat(read(0, ATTACHMENT)).as("a write after the discard is vouched for again")
                .isEqualTo(GoldenWords.Verdict.STALE);
    }

    @Test
    void aDiscardOfAnotherPageChangesNothing() {
        wrote(42);
        discards.begin(1, 3);
        discards.end(1, 3);
        assertThat(read(0, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.STALE);
    }

    @Test
    void anotherAttachmentIsNotComparedWithWritesAFenceMayHaveDropped() {
        wrote(42);
        assertThat(read(0, ATTACHMENT + 1)).isEqualTo(GoldenWords.Verdict.UNCHECKED);
        assertThat(read(42, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.MATCHES);
    }

    @Test
    void aReadRacingAWriteOfTheSameWordIsNotChecked() {
        wrote(42);
        GoldenWords.Ticket r = golden.readSent(OFFSET);
        GoldenWords.Ticket w = golden.writeSent(OFFSET, 43);
        // The read may be answered before or after the write lands: either value is right.
        assertThat(golden.readAnswered(r, AccessResult.ok(OFFSET, 43, ATTACHMENT)))
                .isEqualTo(GoldenWords.Verdict.UNCHECKED);
        GoldenWords.Ticket during = golden.readSent(OFFSET);
        assertThat(golden.readAnswered(during, AccessResult.ok(OFFSET, 42, ATTACHMENT)))
                .isEqualTo(GoldenWords.Verdict.UNCHECKED);
        golden.writeAnswered(w, AccessResult.ok(OFFSET, 43, ATTACHMENT));
        assertThat(read(43, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.MATCHES);
    }

    @Test
    void twoWritesInFlightAnsweredOutOfOrderLeaveTheWordUnknown() {
        GoldenWords.Ticket a = golden.writeSent(OFFSET, 1);
        GoldenWords.Ticket b = golden.writeSent(OFFSET, 2);
        golden.writeAnswered(b, AccessResult.ok(OFFSET, 2, ATTACHMENT));
        golden.writeAnswered(a, AccessResult.ok(OFFSET, 1, ATTACHMENT));
        assertThat(read(1, ATTACHMENT)).as("which landed last is not known").isEqualTo(GoldenWords.Verdict.UNCHECKED);
        // In order, the last one sent is the last one applied (the importer serves a driver's accesses in order).
        GoldenWords.Ticket c = golden.writeSent(OFFSET, 3);
        GoldenWords.Ticket d = golden.writeSent(OFFSET, 4);
        golden.writeAnswered(c, AccessResult.ok(OFFSET, 3, ATTACHMENT));
        golden.writeAnswered(d, AccessResult.ok(OFFSET, 4, ATTACHMENT));
        assertThat(read(3, ATTACHMENT)).isEqualTo(GoldenWords.Verdict.STALE);
    }

    @Test
    void wordOwnersGiveEveryWordOneNode() {
        WordOwners[] nodes = {new WordOwners(3, 0), new WordOwners(3, 1), new WordOwners(3, 2)};
        for (long offset = 0; offset < 4096 * 2; offset += 8) {
            int owners = 0;
            for (WordOwners o : nodes) {
                owners += o.owns(offset) ? 1 : 0;
                long claimed = o.claim(offset);
                assertThat(o.owns(claimed)).isTrue();
                assertThat(claimed).isBetween(0L, Math.max(offset, 16));
            }
            assertThat(owners).isEqualTo(1);
        }
    }
}
