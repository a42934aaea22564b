package io.shadowmmu.emulator.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a scenario reports: a tree of values for the JSON file (set with dotted keys, e.g. {@code host.frames.free})
 * and lines for the human summary. Whether the run was clean is the oracle's word, not the scenario's.
 */
public final class ScenarioResult {
    private final Map<String, Object> tree = new LinkedHashMap<>();
    private final List<String> summary = new ArrayList<>();

    /** Sets {@code value} at a dotted path, creating the objects on the way. */
    @SuppressWarnings("unchecked")
    public ScenarioResult put(String dottedKey, Object value) {
        String[] parts = dottedKey.split("\\.");
        Map<String, Object> node = tree;
        for (int i = 0; i < parts.length - 1; i++) {
            node = (Map<String, Object>) node.computeIfAbsent(parts[i], k -> new LinkedHashMap<String, Object>());
        }
        node.put(parts[parts.length - 1], value);
        return this;
    }

    @SuppressWarnings("unchecked")
    public Object get(String dottedKey) {
        String[] parts = dottedKey.split("\\.");
        Object node = tree;
        for (String p : parts) {
            if (!(node instanceof Map)) {
                return null;
            }
            node = ((Map<String, Object>) node).get(p);
        }
        return node;
    }

    public ScenarioResult line(String text) {
        summary.add(text);
        return this;
    }

    public Map<String, Object> tree() {
        return tree;
    }

    public List<String> summary() {
        return summary;
    }
}
