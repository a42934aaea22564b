package io.shadowmmu.scenario.oracle;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fence revokes an agent from the mm's thread while the agent may be installing a translation from a grant it got
 * before the fence. Whatever the interleaving, once the agent has been revoked and has installed nothing since, it
 * holds nothing: freeing every frame must be clean. (Before the fix, an install that straddled the revocation left a
 * live translation behind that no later event removed, and the free was a false I3.)
 */
class OracleRevocationRaceTest {
    private static final int FRAMES = 64;
    private static final int ROUNDS = 3_000;

    @Test
    void anInstallRacingARevocationIsRevokedToo() throws InterruptedException {
        CoherenceOracle oracle = new CoherenceOracle(8);
        long agent = 7;
        oracle.agentNamed(agent, "racer");
        for (int pfn = 0; pfn < FRAMES; pfn++) {
            oracle.frameAllocated(pfn, 1, 1);
        }
        AtomicBoolean installing = new AtomicBoolean(true);
        Thread installer = new Thread(() -> {
            for (int round = 0; round < ROUNDS; round++) {
                for (int pfn = 0; pfn < FRAMES; pfn++) {
                    long va = ((long) round * FRAMES + pfn) << 12; // a new slot every time: never a refill
                    oracle.translationInstalled(agent, 0, 1, va, pfn, 1, true);
                }
            }
            installing.set(false);
        });
        Thread revoker = new Thread(() -> {
            while (installing.get()) {
                oracle.agentRevoked(agent, "fenced");
            }
        });
        installer.start();
        revoker.start();
        installer.join();
        revoker.join();

        oracle.agentRevoked(agent, "fenced"); // the last word: nothing installed after this
        assertThat(oracle.liveTranslations()).isZero();
        for (int pfn = 0; pfn < FRAMES; pfn++) {
            oracle.frameFreed(pfn, 1);
        }
        assertThat(oracle.clean()).as("%d violations, the first: %s", oracle.total(),
                oracle.violations().stream().limit(2).toList()).isTrue();
    }
}
