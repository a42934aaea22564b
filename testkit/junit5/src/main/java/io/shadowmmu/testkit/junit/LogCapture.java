package io.shadowmmu.testkit.junit;

import akka.actor.testkit.typed.internal.CapturingAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.Appender;
import org.slf4j.LoggerFactory;

import java.util.Iterator;

/**
 * Keeps a test's log quiet unless it fails: Akka's {@link CapturingAppender} (on the root logger of
 * {@code logback-test.xml}) holds every event; a failed test prints them through the appenders of the
 * {@value #DELEGATE} logger, a passing one throws them away. Without a capturing appender configured, capturing is
 * off and logs go wherever the logback configuration sends them.
 */
final class LogCapture {
    /** The logger whose appenders print captured events (the name Akka's appender uses). */
    static final String DELEGATE = "akka.actor.testkit.typed.internal.CapturingAppenderDelegate";

    private final CapturingAppender appender;

    private LogCapture(CapturingAppender appender) {
        this.appender = appender;
    }

    /** Capturing, if logback-test.xml has a CapturingAppender on the root logger; otherwise a pass-through. */
    static LogCapture fromLogback() {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext)) {
            return new LogCapture(null);
        }
        try {
            return new LogCapture(CapturingAppender.get(""));
        } catch (IllegalStateException notConfigured) {
            return new LogCapture(null);
        }
    }

    boolean active() {
        return appender != null;
    }

    /** Forgets what was captured so far (the start of a test, or a test that passed). */
    void clear() {
        if (appender != null) {
            appender.clear();
        }
    }

    /** Prints what was captured between two banners naming the failed test, then forgets it. */
    void printFailed(String test, Throwable cause) {
        if (appender == null) {
            return;
        }
        banner("--> " + test + ": start of log messages of the failed test (" + cause + ")");
        appender.flush();
        appender.clear();
        banner("<-- " + test + ": end of log messages of the failed test");
    }

    /** Straight to the printing appenders, so the banner is not captured itself. */
    private static void banner(String text) {
        Logger delegate = (Logger) LoggerFactory.getLogger(DELEGATE);
        ILoggingEvent event = new LoggingEvent(LogCapture.class.getName(), delegate, Level.INFO, text, null, null);
        for (Iterator<Appender<ILoggingEvent>> it = delegate.iteratorForAppenders(); it.hasNext(); ) {
            it.next().doAppend(event);
        }
    }
}
