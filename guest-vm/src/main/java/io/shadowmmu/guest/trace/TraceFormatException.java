package io.shadowmmu.guest.trace;

/** A trace line that is not Lackey output; the message names the source, the line number and the line. */
public final class TraceFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final long lineNumber;
    private final String line;

    public TraceFormatException(String source, long lineNumber, String line, String rule) {
        super(source + " line " + lineNumber + ": " + rule + ": \"" + line + "\"");
        this.source = source;
        this.lineNumber = lineNumber;
        this.line = line;
    }

    public String source() {
        return source;
    }

    public long lineNumber() {
        return lineNumber;
    }

    public String line() {
        return line;
    }
}
