package dev.converge.migration.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Pins the transition table: every (from, to) pair. */
class RunStateTest {
    static final Set<String> ALLOWED = Set.of(
            "prelaunch>running", "prelaunch>inmigrate", "prelaunch>finish-migrate",
            "inmigrate>running", "inmigrate>paused", "inmigrate>finish-migrate", "inmigrate>postmigrate", "inmigrate>internal-error",
            "running>paused", "running>finish-migrate", "running>postmigrate", "running>internal-error",
            "running>shutdown",
            "paused>running", "paused>finish-migrate", "paused>postmigrate", "paused>prelaunch",
            "finish-migrate>running", "finish-migrate>paused", "finish-migrate>postmigrate", "finish-migrate>internal-error",
            "postmigrate>running", "postmigrate>finish-migrate", "postmigrate>prelaunch",
            "internal-error>running", "internal-error>paused", "internal-error>finish-migrate", "internal-error>prelaunch",
            "shutdown>paused", "shutdown>finish-migrate", "shutdown>prelaunch");

    static Stream<Arguments> pairs() {
        return Stream.of(RunState.values()).flatMap(a -> Stream.of(RunState.values()).map(b -> Arguments.of(a, b)));
    }

    @ParameterizedTest
    @MethodSource("pairs")
    void transitionTable(RunState from, RunState to) {
        assertThat(from.canGoTo(to)).isEqualTo(ALLOWED.contains(from.wireName() + ">" + to.wireName()));
    }
}
