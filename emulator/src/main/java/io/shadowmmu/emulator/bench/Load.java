package io.shadowmmu.emulator.bench;

/**
 * A workload running from its creation until {@link #close()}: the harness reads {@link #completed()} at the start
 * and end of a measurement window. Closing stops it and releases what it holds (its mms exit, frames go back).
 */
public interface Load extends AutoCloseable {

    /** Operations completed so far (monotonic, readable from any thread). */
    long completed();

    @Override
    void close();
}
