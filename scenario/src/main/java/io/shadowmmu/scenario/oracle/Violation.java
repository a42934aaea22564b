package io.shadowmmu.scenario.oracle;

import io.shadowmmu.hostmm.events.Invariant;

import java.util.List;

/**
 * One broken invariant, with the story that led to it: the last events the oracle saw on that frame, oldest first.
 *
 * @param agent     the agent that broke it or reported it (-1 when none in particular)
 * @param agentName its readable name
 */
public record Violation(Invariant invariant, long agent, String agentName, String detail, List<String> story) {

    /** The violation and its story as readable text. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(invariant).append(" (").append(invariant.meaning()).append(")\n  ").append(detail);
        if (agent >= 0) {
            sb.append("\n  agent: ").append(agentName);
        }
        if (!story.isEmpty()) {
            sb.append("\n  story:");
            for (String line : story) {
                sb.append("\n    ").append(line);
            }
        }
        return sb.toString();
    }
}
