package dev.converge.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Pins both tables of docs/architecture.md, cell by cell, written out here independently of JobTables. */
class JobTablesTest {
    /** docs/architecture.md, section 3.1: the transitions (row = from). */
    private static final Map<String, String> ARROWS = Map.of(
            "undefined", "created",
            "created", "running aborting null",
            "running", "paused ready waiting aborting",
            "paused", "running",
            "ready", "standby waiting aborting",
            "standby", "ready",
            "waiting", "pending aborting",
            "pending", "aborting concluded",
            "aborting", "aborting concluded",
            "concluded", "null");

    /** docs/architecture.md, section 3.1: the verbs → accepting statuses. */
    private static final Map<String, String> VERBS = Map.of(
            "cancel", "created running paused ready standby waiting pending",
            "pause", "created running paused ready standby",
            "resume", "created running paused ready standby",
            "set-speed", "created running paused ready standby",
            "change", "created running paused ready standby",
            "complete", "ready standby",
            "finalize", "pending",
            "dismiss", "concluded");

    static Stream<Arguments> allPairsOfStatuses() {
        List<Arguments> out = new ArrayList<>();
        for (JobStatus from : JobStatus.values()) {
            for (JobStatus to : JobStatus.values()) {
                out.add(Arguments.of(from, to));
            }
        }
        return out.stream();
    }

    static Stream<Arguments> allStatusVerbPairs() {
        List<Arguments> out = new ArrayList<>();
        for (JobStatus s : JobStatus.values()) {
            for (JobVerb v : JobVerb.values()) {
                out.add(Arguments.of(s, v));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("allPairsOfStatuses")
    void transitionTable(JobStatus from, JobStatus to) {
        boolean expected = List.of(ARROWS.getOrDefault(from.wireName(), "").split(" ")).contains(to.wireName());
        assertThat(JobTables.canTransition(from, to)).isEqualTo(expected);
        if (expected) {
            assertThatCode(() -> JobTables.checkTransition("j", from, to)).doesNotThrowAnyException();
        } else {
            assertThatThrownBy(() -> JobTables.checkTransition("j", from, to))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(from.wireName() + " -> " + to.wireName());
        }
    }

    @ParameterizedTest(name = "{1} in {0}")
    @MethodSource("allStatusVerbPairs")
    void verbTable(JobStatus status, JobVerb verb) {
        boolean expected = List.of(VERBS.get(verb.wireName()).split(" ")).contains(status.wireName());
        assertThat(JobTables.accepts(verb, status)).isEqualTo(expected);
        if (expected) {
            assertThatCode(() -> JobTables.checkVerb("job0", status, verb)).doesNotThrowAnyException();
        } else {
            assertThatThrownBy(() -> JobTables.checkVerb("job0", status, verb))
                    .isInstanceOf(JobException.class)
                    .hasMessage("Job 'job0' in state '" + status.wireName() + "' cannot accept command verb '"
                            + verb.wireName() + "'")
                    .extracting(e -> ((JobException) e).kind()).isEqualTo(JobException.Kind.GENERIC);
        }
    }

    @Test
    void wireNames() {
        assertThat(JobStatus.UNDEFINED.wireName()).isEqualTo("undefined");
        assertThat(JobStatus.NULL.wireName()).isEqualTo("null");
        assertThat(JobVerb.SET_SPEED.wireName()).isEqualTo("set-speed");
        assertThat(JobVerb.FINALIZE.wireName()).isEqualTo("finalize");
    }
}
