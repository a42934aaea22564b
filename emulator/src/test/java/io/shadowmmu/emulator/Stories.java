package io.shadowmmu.emulator;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The stories of a run's verdict, for tests of broken variants. A broken run often breaks more than the invariant
 * its variant targets (a stale translation is then read, or outlives its frame's move to a child), and any of those
 * may come first; the verdict lists the first violation of each broken invariant, so the story is looked for there.
 */
final class Stories {
    private Stories() {
    }

    static void assertSomeStoryTells(JsonNode verdict, String invariant) {
        List<String> stories = new ArrayList<>();
        verdict.path("oracle").path("stories").forEach(s -> stories.add(s.asText()));
        assertThat(stories).as("the verdict's stories").anySatisfy(s -> assertThat(s).startsWith(invariant));
    }
}
