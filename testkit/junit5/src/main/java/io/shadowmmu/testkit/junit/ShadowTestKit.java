package io.shadowmmu.testkit.junit;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.ManualTime;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestWatcher;

import java.util.Optional;

/**
 * JUnit 5 support for Akka's typed {@link ActorTestKit} (Akka 2.8 ships only a JUnit 4 rule): one kit per test class,
 * created before the first test and shut down after the last; optionally on {@link ManualTime}; logs captured and
 * printed only for a failed test; {@link ActorTestKit}, {@link ActorSystem}, {@link ManualTime} and this extension
 * resolved as test, lifecycle-method or constructor parameters.
 *
 * <pre>{@code
 * class MyActorTest {
 *     @RegisterExtension
 *     static final ShadowTestKit kit = ShadowTestKit.create().withManualTime();
 *
 *     @Test
 *     void timerFires() {
 *         TestProbe<String> probe = kit.createTestProbe();
 *         kit.spawn(MyTimerActor.create(probe.getRef()));
 *         kit.manualTime().timePasses(Duration.ofSeconds(5));
 *         probe.expectMessage("tick");
 *     }
 * }
 * }</pre>
 *
 * <p>Or {@code @ExtendWith(ShadowTestKit.class)} with {@link KitOptions} on the class and the kit taken as a
 * parameter. A {@code @Nested} class shares its enclosing class's kit.
 */
public final class ShadowTestKit implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, TestWatcher,
        ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(ShadowTestKit.class);
    private static final String KIT = "kit";

    /** Quiet by default: Akka's own INFO lines are captured like everything else, printed only on failure. */
    private static final Config DEFAULTS = ConfigFactory.parseString("akka.loglevel = INFO");

    /** What one test class (and its nested classes) runs on. */
    private record Running(ActorTestKit kit, ManualTime manualTime, String owner, LogCapture logs) {
    }

    private final Config config;
    private final boolean manualTime;
    private final boolean fromFactory;
    private volatile Running running;

    /** For {@code @ExtendWith(ShadowTestKit.class)}: options come from {@link KitOptions} on the test class. */
    public ShadowTestKit() {
        this(ConfigFactory.empty(), false, false);
    }

    private ShadowTestKit(Config config, boolean manualTime, boolean fromFactory) {
        this.config = config;
        this.manualTime = manualTime;
        this.fromFactory = fromFactory;
    }

    /** A kit on the default configuration (the classpath's, with Akka logging at INFO through SLF4J). */
    public static ShadowTestKit create() {
        return new ShadowTestKit(ConfigFactory.empty(), false, true);
    }

    /** A kit on {@code config}, laid over the default configuration. */
    public static ShadowTestKit create(Config config) {
        return new ShadowTestKit(config, false, true);
    }

    /** A kit on {@code hocon} (e.g. {@code "akka.scheduler.tick-duration = 1ms"}), laid over the defaults. */
    public static ShadowTestKit create(String hocon) {
        return create(ConfigFactory.parseString(hocon));
    }

    /** The same kit on Akka's manually advanced scheduler: timers fire only when {@link #manualTime()} says so. */
    public ShadowTestKit withManualTime() {
        return new ShadowTestKit(config, true, true);
    }

    // ---- the running kit ------------------------------------------------------------------------------------------

    /** The test class's ActorTestKit (between the class's first and last test, lifecycle methods included). */
    public ActorTestKit testKit() {
        Running r = running;
        if (r == null) {
            throw new IllegalStateException("ShadowTestKit is not running: use it from tests or lifecycle methods of "
                    + "a class that registers it (@RegisterExtension static field or @ExtendWith)");
        }
        return r.kit();
    }

    /** The manual clock; only for a kit made {@link #withManualTime()} (or {@code @KitOptions(manualTime = true)}). */
    public ManualTime manualTime() {
        testKit();
        ManualTime t = running.manualTime();
        if (t == null) {
            throw new IllegalStateException("this ShadowTestKit runs on the real scheduler: create it withManualTime() "
                    + "or annotate the class @KitOptions(manualTime = true)");
        }
        return t;
    }

    public ActorSystem<Void> system() {
        return testKit().system();
    }

    public <T> ActorRef<T> spawn(Behavior<T> behavior) {
        return testKit().spawn(behavior);
    }

    public <T> ActorRef<T> spawn(Behavior<T> behavior, String name) {
        return testKit().spawn(behavior, name);
    }

    public <T> TestProbe<T> createTestProbe() {
        return testKit().createTestProbe();
    }

    public <T> TestProbe<T> createTestProbe(Class<T> type) {
        return testKit().createTestProbe(type);
    }

    /** Whether logs are being captured (logback-test.xml routes the root logger to Akka's CapturingAppender). */
    public boolean capturingLogs() {
        Running r = running;
        return r != null && r.logs().active();
    }

    // ---- lifecycle ------------------------------------------------------------------------------------------------

    @Override
    public void beforeAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        Running inherited = store.get(KIT, Running.class); // looks in the enclosing classes' stores too
        if (inherited != null) {
            running = inherited;
            return;
        }
        Config own = config;
        boolean manual = manualTime;
        Optional<KitOptions> options = context.getRequiredTestClass().isAnnotationPresent(KitOptions.class)
                ? Optional.of(context.getRequiredTestClass().getAnnotation(KitOptions.class)) : Optional.empty();
        if (!fromFactory && options.isPresent()) {
            own = ConfigFactory.parseString(options.get().config());
            manual = options.get().manualTime();
        }
        Config full = own.withFallback(DEFAULTS).withFallback(ConfigFactory.load());
        if (manual) {
            full = ManualTime.config().withFallback(full);
        }
        LogCapture logs = LogCapture.fromLogback();
        logs.clear();
        ActorTestKit kit = ActorTestKit.create(systemName(context.getRequiredTestClass()), full);
        Running r = new Running(kit, manual ? ManualTime.get(kit.system()) : null, context.getUniqueId(), logs);
        store.put(KIT, r);
        running = r;
    }

    @Override
    public void afterAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        Running r = store.get(KIT, Running.class);
        if (r == null || !r.owner().equals(context.getUniqueId())) {
            return; // a nested class: its enclosing class shuts the kit down
        }
        store.remove(KIT);
        running = null;
        try {
            r.kit().shutdownTestKit();
        } finally {
            // A failure in @BeforeAll/@AfterAll has no test to report it: print what the class logged.
            Optional<Throwable> failure = context.getExecutionException();
            if (failure.isPresent()) {
                r.logs().printFailed(context.getDisplayName(), failure.get());
            } else {
                r.logs().clear();
            }
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Running r = context.getStore(NAMESPACE).get(KIT, Running.class);
        if (r != null) {
            r.logs().clear();
        }
    }

    @Override
    public void testSuccessful(ExtensionContext context) {
        forget(context);
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        forget(context);
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        Running r = context.getStore(NAMESPACE).get(KIT, Running.class);
        if (r != null) {
            r.logs().printFailed(context.getRequiredTestClass().getSimpleName() + "." + context.getDisplayName(),
                    cause);
        }
    }

    private static void forget(ExtensionContext context) {
        Running r = context.getStore(NAMESPACE).get(KIT, Running.class);
        if (r != null) {
            r.logs().clear();
        }
    }

    // ---- parameters -----------------------------------------------------------------------------------------------

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == ActorTestKit.class || type == ManualTime.class || type == ActorSystem.class
                || type == ShadowTestKit.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        Running r = context.getStore(NAMESPACE).get(KIT, Running.class);
        if (r == null && context.getTestMethod().isEmpty()) {
            // @TestInstance(PER_CLASS): the constructor runs before beforeAll, so the kit starts now.
            beforeAll(context);
            r = context.getStore(NAMESPACE).get(KIT, Running.class);
        }
        if (r == null) {
            throw new ParameterResolutionException("ShadowTestKit has no running kit for " + parameter.getParameter()
                    + ": it is created in beforeAll of the class that registers it");
        }
        if (type == ShadowTestKit.class) {
            return this;
        }
        if (type == ActorTestKit.class) {
            return r.kit();
        }
        if (type == ActorSystem.class) {
            return r.kit().system();
        }
        if (r.manualTime() == null) {
            throw new ParameterResolutionException("parameter " + parameter.getParameter() + " asks for ManualTime, "
                    + "but the kit runs on the real scheduler: use ShadowTestKit.create().withManualTime() or "
                    + "@KitOptions(manualTime = true)");
        }
        return r.manualTime();
    }

    /** An actor system name from the test class: letters, digits, '-' and '_' only. */
    static String systemName(Class<?> testClass) {
        String name = testClass.getName().replaceAll("[^A-Za-z0-9_-]", "-");
        return name.isEmpty() || !Character.isLetterOrDigit(name.charAt(0)) ? "test-" + name : name;
    }
}
