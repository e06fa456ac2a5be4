package dev.converge.nbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.nbd.wire.NbdProtocolException;
import org.junit.jupiter.api.Test;

class ReadCoverageTest {
    @Test
    void chunksInAnyOrderThatTileTheRequestCompleteIt() throws Exception {
        ReadCoverage c = new ReadCoverage(4096, 65536);
        c.add(4096 + 32768, 32768); // the second half first: servers may send chunks out of order
        assertThat(c.complete()).isFalse();
        c.add(4096, 4096);
        c.add(8192, 28672);
        assertThat(c.covered()).isEqualTo(65536);
        assertThat(c.complete()).isTrue();
    }

    @Test
    void aGapLeavesItIncomplete() throws Exception {
        ReadCoverage c = new ReadCoverage(0, 8192);
        c.add(0, 4096);
        c.add(6144, 2048);
        assertThat(c.covered()).isEqualTo(6144);
        assertThat(c.complete()).as("bytes 4096..6143 came in no chunk").isFalse();
    }

    @Test
    void overlapsAreRefusedEvenWhenTheSumWouldFitTheRequest() throws Exception {
        ReadCoverage c = new ReadCoverage(0, 8192);
        c.add(0, 4096);
        // 2048..6143 overlaps; with the gap it leaves at the end the byte count alone would add up.
        assertThatThrownBy(() -> c.add(2048, 4096)).isInstanceOf(NbdProtocolException.Malformed.class)
                .hasMessageContaining("overlaps");
        ReadCoverage d = new ReadCoverage(0, 8192);
        d.add(4096, 4096);
        assertThatThrownBy(() -> d.add(0, 4097)).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> d.add(4096, 1)).hasMessageContaining("overlaps");
    }

    @Test
    void chunksOutsideTheRequestAreRefused() {
        ReadCoverage c = new ReadCoverage(4096, 4096);
        assertThatThrownBy(() -> c.add(0, 4096)).hasMessageContaining("outside the request of 4096 bytes at 4096");
        assertThatThrownBy(() -> c.add(4096, 4097)).hasMessageContaining("outside");
        assertThatThrownBy(() -> c.add(Long.MAX_VALUE - 1, 4)).hasMessageContaining("outside");
    }

    @Test
    void anEmptyChunkChangesNothingAndAnEmptyReadIsComplete() throws Exception {
        ReadCoverage c = new ReadCoverage(0, 4096);
        c.add(100, 0);
        assertThat(c.covered()).isZero();
        assertThat(new ReadCoverage(0, 0).complete()).isTrue();
    }
}
