package dev.converge.migration.file;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When a live mapped-ram save stops making passes because the dirty set no longer shrinks. */
class LivePassesTest {
    @Test
    void theFirstPassAlwaysCountsAsShrinking() {
        assertThat(FileSaver.shrinking(Long.MAX_VALUE, Long.MAX_VALUE - 1)).isTrue();
    }

    @Test
    void aPassMustLeaveAtMostNineTenthsOfWhatThePreviousLeft() {
        assertThat(FileSaver.shrinking(1000, 900)).isTrue();
        assertThat(FileSaver.shrinking(1000, 0)).isTrue();
        assertThat(FileSaver.shrinking(1000, 901)).isFalse();
        assertThat(FileSaver.shrinking(1000, 1000)).isFalse();
        assertThat(FileSaver.shrinking(1000, 5000)).as("a guest that dirties faster than the file is written").isFalse();
    }
}
