package io.shadowmmu.guest.trace;

import io.shadowmmu.guest.workload.AccessBatch;
import io.shadowmmu.guest.workload.Workload;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Replays the output of {@code valgrind --tool=lackey --trace-mem=yes} as a guest workload. Lines are
 * {@code "I  addr,size"} (instruction fetch), {@code " L addr,size"}, {@code " S addr,size"} and
 * {@code " M addr,size"} with a hexadecimal address and a decimal size; valgrind's own {@code ==pid==} lines and
 * blank lines are skipped, anything else is a {@link TraceFormatException} naming the line number.
 *
 * <p>The parser works on bytes and reuses one line buffer, so replaying a trace allocates nothing per access. An
 * access whose bytes cross a page boundary is emitted as two accesses, one per page, so both translations are used.
 * The stream is read lazily: a large trace is never held in memory. Call {@link #close()} when done.
 */
public final class LackeyTrace implements Workload, AutoCloseable {
    /** Largest access accepted; with 4 KiB pages an access then touches at most two pages. */
    public static final int MAX_ACCESS_SIZE = 4096;
    private static final long PAGE_SIZE = 4096;

    private final String source;
    private final InputStream in;
    private final byte[] chunk = new byte[64 * 1024];
    private int chunkPos;
    private int chunkLen;
    private byte[] line = new byte[128];
    private int lineLen;
    private boolean eof;

    // A second half of a page-spanning access waiting for room in the batch.
    private boolean pendingSplit;
    private long pendingAddress;
    private byte pendingKind;
    private int pendingSize;

    private long lines;
    private long comments;
    private long fetches;
    private long loads;
    private long stores;
    private long modifies;
    private long spanning;

    public LackeyTrace(String source, InputStream in) {
        this.source = source;
        this.in = in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16);
    }

    public static LackeyTrace open(Path file) {
        try {
            return new LackeyTrace(file.toString(), Files.newInputStream(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open trace " + file + ": " + e.getMessage(), e);
        }
    }

    public static LackeyTrace ofString(String source, String text) {
        return new LackeyTrace(source, new java.io.ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)));
    }

    @Override
    public boolean fill(AccessBatch batch) {
        while (!batch.isFull()) {
            if (pendingSplit) {
                batch.add(pendingAddress, pendingKind, pendingSize);
                pendingSplit = false;
                continue;
            }
            if (!readLine()) {
                return false;
            }
            parseLine(batch);
        }
        return !eof || pendingSplit;
    }

    @Override
    public long remaining() {
        return eof && !pendingSplit ? 0 : -1;
    }

    @Override
    public String name() {
        return "lackey:" + source;
    }

    public TraceStats stats() {
        return new TraceStats(lines, comments, fetches, loads, stores, modifies, spanning);
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close trace " + source, e);
        }
    }

    /** Reads the next line into {@link #line}; false at end of input. */
    private boolean readLine() {
        if (eof) {
            return false;
        }
        lineLen = 0;
        while (true) {
            if (chunkPos == chunkLen) {
                if (!refill()) {
                    eof = true;
                    if (lineLen == 0) {
                        return false;
                    }
                    break;
                }
            }
            byte b = chunk[chunkPos++];
            if (b == '\n') {
                break;
            }
            if (lineLen == line.length) {
                if (line.length >= 1 << 20) {
                    throw error(lines + 1, "line longer than 1 MiB");
                }
                line = java.util.Arrays.copyOf(line, line.length * 2);
            }
            line[lineLen++] = b;
        }
        if (lineLen > 0 && line[lineLen - 1] == '\r') {
            lineLen--;
        }
        lines++;
        return true;
    }

    private boolean refill() {
        try {
            int n = in.read(chunk);
            if (n <= 0) {
                return false;
            }
            chunkPos = 0;
            chunkLen = n;
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read trace " + source + " after line " + lines, e);
        }
    }

    private void parseLine(AccessBatch batch) {
        if (isBlank() || (lineLen >= 2 && line[0] == '=' && line[1] == '=')) {
            comments++;
            return;
        }
        byte kind;
        int pos;
        if (lineLen >= 3 && line[0] == 'I' && line[1] == ' ' && line[2] == ' ') {
            kind = AccessBatch.IFETCH;
            pos = 3;
        } else if (lineLen >= 3 && line[0] == ' ' && line[2] == ' ') {
            switch (line[1]) {
                case 'L':
                    kind = AccessBatch.LOAD;
                    break;
                case 'S':
                    kind = AccessBatch.STORE;
                    break;
                case 'M':
                    kind = AccessBatch.MODIFY;
                    break;
                default:
                    throw error(lines, "unknown access kind '" + (char) line[1] + "' (expected L, S or M)");
            }
            pos = 3;
        } else {
            throw error(lines, "not a Lackey line (expected \"I  addr,size\" or \" L|S|M addr,size\")");
        }
        long address = 0;
        int digits = 0;
        while (pos < lineLen && line[pos] != ',') {
            int d = hexDigit(line[pos]);
            if (d < 0) {
                throw error(lines, "bad hexadecimal address");
            }
            if (++digits > 16) {
                throw error(lines, "address longer than 64 bits");
            }
            address = (address << 4) | d;
            pos++;
        }
        if (digits == 0 || pos == lineLen) {
            throw error(lines, "expected \"address,size\"");
        }
        pos++;
        long size = 0;
        int sizeDigits = 0;
        while (pos < lineLen && line[pos] >= '0' && line[pos] <= '9') {
            size = size * 10 + (line[pos] - '0');
            if (size > MAX_ACCESS_SIZE) {
                throw error(lines, "access size above " + MAX_ACCESS_SIZE + " bytes");
            }
            sizeDigits++;
            pos++;
        }
        while (pos < lineLen && (line[pos] == ' ' || line[pos] == '\t')) {
            pos++;
        }
        if (sizeDigits == 0 || pos != lineLen) {
            throw error(lines, "bad decimal size");
        }
        if (size == 0) {
            throw error(lines, "access size 0");
        }
        if (Long.compareUnsigned(address + size - 1, address) < 0) {
            throw error(lines, "access wraps past the top of the address space");
        }
        count(kind);
        emit(batch, address, kind, (int) size);
    }

    private void emit(AccessBatch batch, long address, byte kind, int size) {
        long last = address + size - 1;
        if (((address ^ last) >>> 12) != 0) {
            // The access crosses into the next page: both pages are touched, each with its own part.
            spanning++;
            long boundary = (address | (PAGE_SIZE - 1)) + 1;
            int first = (int) (boundary - address);
            batch.add(address, kind, first);
            pendingAddress = boundary;
            pendingKind = kind;
            pendingSize = size - first;
            pendingSplit = true;
        } else {
            batch.add(address, kind, size);
        }
    }

    private void count(byte kind) {
        switch (kind) {
            case AccessBatch.IFETCH:
                fetches++;
                break;
            case AccessBatch.LOAD:
                loads++;
                break;
            case AccessBatch.STORE:
                stores++;
                break;
            default:
                modifies++;
                break;
        }
    }

    private boolean isBlank() {
        for (int i = 0; i < lineLen; i++) {
            if (line[i] != ' ' && line[i] != '\t') {
                return false;
            }
        }
        return true;
    }

    private static int hexDigit(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }

    private TraceFormatException error(long lineNumber, String rule) {
        return new TraceFormatException(source, lineNumber, new String(line, 0, lineLen, StandardCharsets.US_ASCII),
                rule);
    }
}
