package dev.converge.block.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DirtyBitmapTest {
    @Test
    void marksWholeChunksAndClipsCountToLength() {
        DirtyBitmap b = new DirtyBitmap("b", 4096, 10_000); // 3 chunks, last one 1808 bytes
        b.setDirty(9000, 1);
        assertThat(b.dirtyBytes()).isEqualTo(10_000 - 8192);
        assertThat(b.nextDirty(0)).isEqualTo(8192);
        b.setDirty(100, 1);
        assertThat(b.dirtyBytes()).isEqualTo(4096 + 1808);
        assertThat(b.nextClean(0)).isEqualTo(4096);
        assertThat(b.nextClean(8192)).isEqualTo(-1);
    }

    @Test
    void resetKeepsPartlyCoveredChunksDirty() {
        DirtyBitmap b = new DirtyBitmap(null, 4096, 16384);
        b.setDirty(0, 16384);
        b.resetDirty(100, 8192); // covers chunk 1 wholly, chunks 0 and 2 partly
        assertThat(b.isDirty(0, 1)).isTrue();
        assertThat(b.isDirty(4096, 4096)).isFalse();
        assertThat(b.isDirty(8192, 1)).isTrue();
        b.resetDirty(12288, 4096);
        assertThat(b.isDirty(12288, 4096)).isFalse();
    }

    @Test
    void disabledBitmapRecordsNothing() {
        DirtyBitmap b = new DirtyBitmap("b", 512, 4096);
        b.setEnabled(false);
        b.recordWrite(0, 4096);
        assertThat(b.dirtyBytes()).isZero();
        b.setEnabled(true);
        b.recordWrite(512, 1);
        assertThat(b.dirtyBytes()).isEqualTo(512);
        b.clear();
        assertThat(b.nextDirty(0)).isEqualTo(-1);
    }

    @Test
    void granularityLimitsAreQemus() {
        assertThat(DirtyBitmap.isValidGranularity(512)).isTrue();
        assertThat(DirtyBitmap.isValidGranularity(1L << 31)).isTrue();
        assertThat(DirtyBitmap.isValidGranularity(256)).isFalse();
        assertThat(DirtyBitmap.isValidGranularity(1000)).isFalse();
        assertThatThrownBy(() -> new DirtyBitmap("x", 1000, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
