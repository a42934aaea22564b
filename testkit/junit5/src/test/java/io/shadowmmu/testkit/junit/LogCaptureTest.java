package io.shadowmmu.testkit.junit;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/**
 * Runs a fixture class (one passing and one failing test, each logging from an actor) on the JUnit platform and
 * watches what reaches the printing appenders: only the failed test's log, between banners; and the kit is shut
 * down after the class.
 */
class LogCaptureTest {
    private final ListAppender<ILoggingEvent> printed = new ListAppender<>();
    private Logger delegate;

    @BeforeEach
    void watchPrintedLines() {
        delegate = (Logger) LoggerFactory.getLogger(LogCapture.DELEGATE);
        printed.start();
        delegate.addAppender(printed);
    }

    @AfterEach
    void stopWatching() {
        delegate.detachAppender(printed);
    }

    @Test
    void onlyAFailedTestsLogIsPrintedAndTheKitIsShutDownAfterTheClass() {
        TestExecutionSummary summary = run(Fixture.class);
        assertThat(summary.getTestsSucceededCount()).isEqualTo(1);
        assertThat(summary.getTestsFailedCount()).isEqualTo(1);

        String out = printed.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.joining("\n"));
        assertThat(out).contains("failing test says hello").doesNotContain("passing test says hello");
        assertThat(out).contains("start of log messages of the failed test").contains("end of log messages");
        List<String> lines = printed.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
        assertThat(lines.get(0)).startsWith("--> Fixture.failing()");

        ActorSystem<?> system = Fixture.system;
        assertThat(system).isNotNull();
        assertThat(system.getWhenTerminated().toCompletableFuture()).succeedsWithin(Duration.ofSeconds(10));
    }

    @Test
    void aPassingClassPrintsNothing() {
        TestExecutionSummary summary = run(PassingFixture.class);
        assertThat(summary.getTestsSucceededCount()).isEqualTo(2);
        assertThat(printed.list).isEmpty();
    }

    private static TestExecutionSummary run(Class<?> fixture) {
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request().selectors(selectClass(fixture)).build(), listener);
        return listener.getSummary();
    }

    /** Logs from an actor in both tests; fails the second. Run only through {@link #run}. */
    static class Fixture {
        @RegisterExtension
        static final ShadowTestKit kit = ShadowTestKit.create();
        static volatile ActorSystem<?> system;

        static void logFromAnActor(String text) {
            system = kit.system();
            logFromAnActorOn(kit, text);
        }

        static void logFromAnActorOn(ShadowTestKit kit, String text) {
            akka.actor.testkit.typed.javadsl.TestProbe<String> done = kit.createTestProbe();
            kit.spawn(Behaviors.<String>setup(ctx -> {
                ctx.getLog().info(text);
                done.getRef().tell("logged");
                return Behaviors.empty();
            }));
            done.expectMessage("logged");
        }

        @Test
        void passing() {
            logFromAnActor("passing test says hello");
        }

        @Test
        void failing() {
            logFromAnActor("failing test says hello");
            assertThat(1).as("this fixture fails on purpose").isEqualTo(2);
        }
    }

    /** Two passing tests that log. */
    static class PassingFixture {
        @RegisterExtension
        static final ShadowTestKit kit = ShadowTestKit.create();

        @Test
        void one() {
            Fixture.logFromAnActorOn(kit, "one");
        }

        @Test
        void two() {
            Fixture.logFromAnActorOn(kit, "two");
        }
    }
}
