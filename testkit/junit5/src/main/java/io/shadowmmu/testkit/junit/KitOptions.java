package io.shadowmmu.testkit.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Options for a {@link ShadowTestKit} registered with {@code @ExtendWith(ShadowTestKit.class)} (a kit registered
 * with {@code @RegisterExtension} is configured through its factory methods instead).
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface KitOptions {
    /** Run the actor system on Akka's manually advanced scheduler ({@code ManualTime}). */
    boolean manualTime() default false;

    /** HOCON laid over the kit's default configuration, e.g. {@code "akka.scheduler.tick-duration = 1ms"}. */
    String config() default "";
}
