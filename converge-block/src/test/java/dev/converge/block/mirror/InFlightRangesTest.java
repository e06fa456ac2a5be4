package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.converge.block.mirror.InFlightRanges.Kind;
import org.junit.jupiter.api.Test;

class InFlightRangesTest {
    @Test
    void overlappingRangesAreBothConflictedAndNeverRefused() {
        InFlightRanges r = new InFlightRanges();
        InFlightRanges.Range copy = r.add(0, 16, Kind.COPY);
        InFlightRanges.Range apart = r.add(16, 20, Kind.GUEST_WRITE);
        assertThat(copy.conflicted()).isFalse();
        assertThat(apart.conflicted()).as("adjacent is not overlapping").isFalse();
        InFlightRanges.Range write = r.add(15, 16, Kind.GUEST_WRITE);
        assertThat(write.conflicted()).isTrue();
        assertThat(copy.conflicted()).isTrue();
        assertThat(apart.conflicted()).isFalse();
        assertThat(r.count(Kind.GUEST_WRITE)).isEqualTo(2);
        r.remove(copy);
        r.remove(write);
        assertThat(r.overlaps(0, 16)).isFalse();
        assertThat(r.overlaps(19, 30)).isTrue();
        r.remove(apart);
        assertThat(r.isEmpty()).isTrue();
    }

    @Test
    void aRangeRegisteredAfterTheOtherEndedIsNotConflicted() {
        InFlightRanges r = new InFlightRanges();
        r.remove(r.add(3, 4, Kind.COPY));
        assertThat(r.add(3, 4, Kind.GUEST_WRITE).conflicted()).isFalse();
    }

    @Test
    void badInputIsRefused() {
        InFlightRanges r = new InFlightRanges();
        assertThatThrownBy(() -> r.add(5, 5, Kind.COPY)).isInstanceOf(IllegalArgumentException.class);
        InFlightRanges.Range x = r.add(1, 2, Kind.SCAN);
        r.remove(x);
        assertThatThrownBy(() -> r.remove(x)).isInstanceOf(IllegalStateException.class);
    }
}
