package io.shadowmmu.emulator.gru;

import com.typesafe.config.Config;
import io.shadowmmu.config.DeliveryStrategyKind;
import io.shadowmmu.config.Settings;
import io.shadowmmu.config.SettingsException;
import io.shadowmmu.config.Variant;
import io.shadowmmu.emulator.scenario.ScenarioRun;
import io.shadowmmu.gru.GruSettings;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The conditions under which the gru scenario exhibits {@code register_unquiesced} (D54): RANGE invalidations held
 * open by a slow subscriber, and devices re-registering meanwhile. With the variant, each of those settings the user
 * left alone is filled in; one the user set to a value without the window is refused rather than run clean.
 */
final class RegisterUnquiescedSetup {

    /** Context churn filled in: every wait for an invalidation to end re-creates the binding. */
    static final int CHURN = 1;
    static final String SLOW_ACK = "10ms";

    /**
     * @param run  the run to go on with
     * @param line what was filled in, for the summary, or null when nothing was
     */
    record Prepared(ScenarioRun run, String line) {
    }

    private RegisterUnquiescedSetup() {
    }

    static Prepared prepare(ScenarioRun run) {
        Settings settings = run.settings();
        if (settings.variant() != Variant.REGISTER_UNQUIESCED) {
            return new Prepared(run, null);
        }
        Map<String, String> filled = new LinkedHashMap<>();
        if (!userSet(settings, "notifier.strategy")) {
            filled.put("notifier.strategy", "range");
        } else if (settings.notifier().strategy() != DeliveryStrategyKind.RANGE) {
            throw refuse(settings, "notifier.strategy", "must be range for variant register_unquiesced: only a RANGE"
                    + " barrier keeps the PTEs present while an invalidation is in flight (under gather the variant"
                    + " loses nothing)");
        }
        GruSettings gru = GruSettings.read(settings);
        if (!userSet(settings, "gru.context-churn")) {
            filled.put("gru.context-churn", Integer.toString(CHURN));
        } else if (!gru.churns()) {
            throw refuse(settings, "gru.context-churn", "must be positive for variant register_unquiesced: without"
                    + " context churn no device registers during the run");
        }
        if (!userSet(settings, "gru.slow-ack")) {
            filled.put("gru.slow-ack", SLOW_ACK);
        } else if (gru.slowAck().isZero()) {
            throw refuse(settings, "gru.slow-ack", "must be positive for variant register_unquiesced: without a slow"
                    + " subscriber an invalidation is over before a registration can land inside it");
        }
        if (filled.isEmpty()) {
            return new Prepared(run, null);
        }
        ScenarioRun prepared = run.withSettings(Settings.withOverrides(settings.root(), filled));
        GruSettings.read(prepared.settings()); // the filled-in slow ack must still fit the ack deadline
        String line = "register_unquiesced: set " + filled.entrySet().stream().map(e -> e.getKey() + "="
                + e.getValue()).collect(Collectors.joining(", ")) + " (devices re-register while a slow subscriber"
                + " holds RANGE invalidations open)";
        return new Prepared(prepared, line);
    }

    /** Whether a key comes from anywhere but a reference.conf: the command line, application.conf, a property. */
    private static boolean userSet(Settings settings, String key) {
        Config root = settings.root();
        String path = Settings.ROOT + "." + key;
        return root.hasPath(path) && !"reference.conf".equals(root.getValue(path).origin().resource());
    }

    private static SettingsException refuse(Settings settings, String key, String rule) {
        return new SettingsException(key, settings.root().getValue(Settings.ROOT + "." + key).unwrapped()
                .toString(), rule);
    }
}
