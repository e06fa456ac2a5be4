package dev.converge.migration.job;

import static dev.converge.job.JobStatus.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.job.JobStatus;
import dev.converge.migration.job.JointSwitchover.MirrorState;
import dev.converge.migration.job.JointSwitchover.Readiness;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The readiness policy of the joint switchover, with synthetic mirror states. */
class JointSwitchoverTest {
    private static MirrorState m(String id, JobStatus s) {
        return new MirrorState(id, s, false);
    }

    @Test
    void readyWhenEveryMirrorIsReadyOrStandby() {
        assertThat(JointSwitchover.assess(List.of(m("a", READY), m("b", STANDBY)))).isEqualTo(new Readiness.Ready());
        assertThat(JointSwitchover.assess(List.of())).isEqualTo(new Readiness.Ready());
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"CREATED", "RUNNING", "PAUSED"})
    void notYetNamesTheFirstMirrorStillCopying(JobStatus s) {
        assertThat(JointSwitchover.assess(List.of(m("a", READY), m("b", s), m("c", RUNNING))))
                .isEqualTo(new Readiness.NotYet("mirror job 'b' is not ready (status " + s.wireName()
                        + "): the joint switchover needs every mirror in sync"));
    }

    @ParameterizedTest
    @EnumSource(value = JobStatus.class, names = {"WAITING", "PENDING", "ABORTING", "CONCLUDED", "NULL"})
    void brokenWhenAMirrorEndedEvenIfAnotherIsNotReady(JobStatus s) {
        assertThat(JointSwitchover.assess(List.of(m("a", RUNNING), m("b", s))))
                .isEqualTo(new Readiness.Broken("mirror job 'b' ended before the joint switchover (status "
                        + s.wireName() + "): its target no longer follows the source"));
    }

    @Test
    void aReadyMirrorWithACancelRequestIsBroken() {
        assertThat(JointSwitchover.assess(List.of(new MirrorState("a", READY, true))))
                .isEqualTo(new Readiness.Broken("mirror job 'a' was cancelled before the joint switchover"));
    }
}
