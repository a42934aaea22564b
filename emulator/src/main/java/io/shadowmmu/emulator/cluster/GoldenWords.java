package io.shadowmmu.emulator.cluster;

import io.shadowmmu.cluster.protocol.AccessResult;

import java.util.HashMap;
import java.util.Map;

/**
 * An import driver's golden copy of the words it owns (see {@link WordOwners}): the value it last wrote, known only
 * while nothing else may have changed it. A read of a known word is checked (I1) when it is answered, unless a write
 * of that word was sent meanwhile, the exporter discarded the page since the write ({@link Discards}), or another
 * attachment served it (a fence drops a copy's unwritten changes: the exporter was told it would). So a copy dropped
 * at an invalidation without its write-back reads back, fetched again, as the older value: caught. Plain state of
 * the driver actor.
 */
final class GoldenWords {

    /** What an access sent needs at its answer; {@code check} for a read of a known word. */
    record Ticket(long offset, boolean write, long value, long writes, int epoch, boolean check, long expected,
                  long attachment) {
    }

    enum Verdict {
        UNCHECKED, MATCHES, STALE
    }

    private static final class Word {
        long value;
        long attachment;
        int epoch;
        boolean known;
        int pendingWrites;
        long writes;
    }

    private final Discards discards;
    private final Map<Long, Word> words = new HashMap<>();

    GoldenWords(Discards discards) {
        this.discards = discards;
    }

    private static int page(long offset) {
        return (int) (offset >>> 12);
    }

    /** A write of an owned word is sent: unknown until it is answered, alone. */
    Ticket writeSent(long offset, long value) {
        Word w = words.computeIfAbsent(offset, k -> new Word());
        w.pendingWrites++;
        w.writes++;
        w.known = false;
        return new Ticket(offset, true, value, w.writes, discards.quiet(page(offset)), false, 0, 0);
    }

    void writeAnswered(Ticket t, AccessResult r) {
        Word w = words.get(t.offset());
        w.pendingWrites--;
        if (r.ok() && w.pendingWrites == 0 && w.writes == t.writes()
                && discards.unchangedSince(page(t.offset()), t.epoch())) {
            w.known = true;
            w.value = t.value();
            w.attachment = r.attachment();
            w.epoch = t.epoch();
        }
        // Refused or lost: it may or may not have landed (a refusal after a fence, a lost answer); unknown.
    }

    Ticket readSent(long offset) {
        Word w = words.get(offset);
        if (w == null || !w.known || w.pendingWrites > 0 || !discards.unchangedSince(page(offset), w.epoch)) {
            return new Ticket(offset, false, 0, 0, -1, false, 0, 0);
        }
        return new Ticket(offset, false, 0, w.writes, w.epoch, true, w.value, w.attachment);
    }

    Verdict readAnswered(Ticket t, AccessResult r) {
        if (!t.check() || !r.ok()) {
            return Verdict.UNCHECKED;
        }
        Word w = words.get(t.offset());
        if (!w.known || w.writes != t.writes() || !discards.unchangedSince(page(t.offset()), t.epoch())
                || r.attachment() != t.attachment()) {
            return Verdict.UNCHECKED;
        }
        if (r.value() == t.expected()) {
            return Verdict.MATCHES;
        }
        w.known = false; // reported once: what the word holds now is no longer what this driver wrote
        return Verdict.STALE;
    }
}
