package io.shadowmmu.guest.trace;

import io.shadowmmu.guest.workload.AccessBatch;
import org.junit.jupiter.api.Test;

import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LackeyTraceTest {

    @Test
    void replaysARealTraceAndCountsFetchesApartFromData() throws Exception {
        // Made with: valgrind --tool=lackey --trace-mem=yes --log-file=ls-root.lackey ls /  (head + tail kept)
        try (InputStream in = getClass().getResourceAsStream("/ls-root.lackey");
             LackeyTrace trace = new LackeyTrace("ls-root.lackey", in)) {
            AccessBatch batch = new AccessBatch(64);
            long total = 0;
            long fetchesSeen = 0;
            boolean more = true;
            while (more) {
                batch.clear();
                more = trace.fill(batch);
                for (int i = 0; i < batch.size(); i++) {
                    fetchesSeen += batch.kind(i) == AccessBatch.IFETCH ? 1 : 0;
                }
                total += batch.size();
            }
            TraceStats s = trace.stats();
            // Counts checked with grep on the file: 233 I, 26 L, 32 S, 3 M, 14 valgrind lines.
            assertThat(s.instructionFetches()).isEqualTo(233);
            assertThat(s.loads()).isEqualTo(26);
            assertThat(s.stores()).isEqualTo(32);
            assertThat(s.modifies()).isEqualTo(3);
            assertThat(s.dataAccesses()).isEqualTo(61);
            assertThat(s.comments()).isEqualTo(14);
            assertThat(s.lines()).isEqualTo(308);
            assertThat(fetchesSeen).isEqualTo(233);
            assertThat(total).isEqualTo(294 + s.pageSpanning());
            assertThat(trace.remaining()).isZero();
        }
    }

    @Test
    void parsesEachKindWithHexAddressAndDecimalSize() {
        LackeyTrace t = LackeyTrace.ofString("t", "==1== hello, world\nI  0401ab70,3\n L 1fff000778,8\n"
                + " S 0000ABCD,16\n M 10,4\n\n");
        AccessBatch b = new AccessBatch(10);
        assertThat(t.fill(b)).isFalse();
        assertThat(b.size()).isEqualTo(4);
        assertThat(b.address(0)).isEqualTo(0x0401ab70L);
        assertThat(b.kind(0)).isEqualTo(AccessBatch.IFETCH);
        assertThat(b.accessSize(0)).isEqualTo(3);
        assertThat(b.address(1)).isEqualTo(0x1fff000778L);
        assertThat(b.kind(1)).isEqualTo(AccessBatch.LOAD);
        assertThat(b.address(2)).isEqualTo(0xABCDL);
        assertThat(b.kind(2)).isEqualTo(AccessBatch.STORE);
        assertThat(b.accessSize(2)).isEqualTo(16);
        assertThat(b.kind(3)).isEqualTo(AccessBatch.MODIFY);
        assertThat(b.writes(3)).isTrue();
    }

    @Test
    void malformedLineNamesItsNumberAndText() {
        LackeyTrace t = LackeyTrace.ofString("bad.lackey", "==7== x\nI  1000,4\n L 2000,8\n X 3000,8\n");
        assertThatThrownBy(() -> t.fill(new AccessBatch(10)))
                .isInstanceOf(TraceFormatException.class)
                .hasMessageContaining("bad.lackey line 4")
                .hasMessageContaining("\" X 3000,8\"")
                .satisfies(e -> assertThat(((TraceFormatException) e).lineNumber()).isEqualTo(4));
    }

    @Test
    void badAddressOrSizeIsAnError() {
        assertThatThrownBy(() -> LackeyTrace.ofString("a", " L 12g4,8\n").fill(new AccessBatch(4)))
                .hasMessageContaining("line 1").hasMessageContaining("hexadecimal");
        assertThatThrownBy(() -> LackeyTrace.ofString("a", "I  1000,4\n L 1000\n").fill(new AccessBatch(4)))
                .hasMessageContaining("line 2");
        assertThatThrownBy(() -> LackeyTrace.ofString("a", " S 1000,0\n").fill(new AccessBatch(4)))
                .hasMessageContaining("size 0");
        assertThatThrownBy(() -> LackeyTrace.ofString("a", " S 1000,8x\n").fill(new AccessBatch(4)))
                .hasMessageContaining("line 1");
    }

    @Test
    void anAccessSpanningTwoPagesTouchesBoth() {
        LackeyTrace t = LackeyTrace.ofString("span", " S 1ffc,8\n L 2000,8\n");
        AccessBatch b = new AccessBatch(10);
        t.fill(b);
        assertThat(b.size()).isEqualTo(3);
        assertThat(b.address(0)).isEqualTo(0x1ffc);
        assertThat(b.accessSize(0)).isEqualTo(4);
        assertThat(b.address(1)).isEqualTo(0x2000);
        assertThat(b.accessSize(1)).isEqualTo(4);
        assertThat(b.kind(1)).isEqualTo(AccessBatch.STORE);
        assertThat(t.stats().pageSpanning()).isEqualTo(1);
        assertThat(t.stats().stores()).isEqualTo(1);
    }

    @Test
    void aSplitAccessSurvivesAFullBatch() {
        LackeyTrace t = LackeyTrace.ofString("span", " L 0ff8,16\n");
        AccessBatch b = new AccessBatch(1);
        assertThat(t.fill(b)).isTrue();
        assertThat(b.address(0)).isEqualTo(0xff8);
        b.clear();
        t.fill(b);
        assertThat(b.address(0)).isEqualTo(0x1000);
        assertThat(b.accessSize(0)).isEqualTo(8);
        b.clear();
        assertThat(t.fill(b)).isFalse();
        assertThat(b.size()).isZero();
    }
}
