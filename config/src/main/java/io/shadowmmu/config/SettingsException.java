package io.shadowmmu.config;

/**
 * A setting that breaks a rule. The message always reads {@code key = value: rule}, so a user can fix the
 * offending line without reading code.
 */
public final class SettingsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final String value;
    private final String rule;

    public SettingsException(String key, String value, String rule) {
        super(key + " = " + value + ": " + rule);
        this.key = key;
        this.value = value;
        this.rule = rule;
    }

    public String key() {
        return key;
    }

    public String value() {
        return value;
    }

    public String rule() {
        return rule;
    }
}
