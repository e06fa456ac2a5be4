package dev.converge.job;

import static dev.converge.job.JobStatus.*;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The job lifecycle as data: the transition table and the verb table of docs/architecture.md (QEMU's
 * {@code JobSTT} and {@code JobVerbTable} in job.c), with one chokepoint each.
 * <p>
 * An illegal transition is a bug in the engine and fails with {@link IllegalStateException};
 * a refused verb is a user error and fails with {@link JobException}.
 */
public final class JobTables {
    private static final Map<JobStatus, Set<JobStatus>> TRANSITIONS = new EnumMap<>(JobStatus.class);
    private static final Map<JobVerb, Set<JobStatus>> VERBS = new EnumMap<>(JobVerb.class);

    static {
        for (JobStatus s : JobStatus.values()) {
            TRANSITIONS.put(s, EnumSet.noneOf(JobStatus.class));
        }
        arrows(UNDEFINED, CREATED);
        arrows(CREATED, RUNNING, ABORTING, NULL);
        arrows(RUNNING, PAUSED, READY, WAITING, ABORTING);
        arrows(PAUSED, RUNNING);
        arrows(READY, STANDBY, WAITING, ABORTING);
        arrows(STANDBY, READY);
        arrows(WAITING, PENDING, ABORTING);
        arrows(PENDING, ABORTING, CONCLUDED);
        arrows(ABORTING, ABORTING, CONCLUDED);
        arrows(CONCLUDED, NULL);
        TRANSITIONS.replaceAll((k, v) -> Collections.unmodifiableSet(v));

        Set<JobStatus> live = EnumSet.of(CREATED, RUNNING, PAUSED, READY, STANDBY);
        VERBS.put(JobVerb.CANCEL, EnumSet.of(CREATED, RUNNING, PAUSED, READY, STANDBY, WAITING, PENDING));
        VERBS.put(JobVerb.PAUSE, live);
        VERBS.put(JobVerb.RESUME, live);
        VERBS.put(JobVerb.SET_SPEED, live);
        VERBS.put(JobVerb.CHANGE, live);
        VERBS.put(JobVerb.COMPLETE, EnumSet.of(READY, STANDBY));
        VERBS.put(JobVerb.FINALIZE, EnumSet.of(PENDING));
        VERBS.put(JobVerb.DISMISS, EnumSet.of(CONCLUDED));
        VERBS.replaceAll((k, v) -> Collections.unmodifiableSet(EnumSet.copyOf(v)));
    }

    private JobTables() {
    }

    private static void arrows(JobStatus from, JobStatus... to) {
        Collections.addAll(TRANSITIONS.get(from), to);
    }

    /** Whether {@code from → to} is an arrow of the transition table. */
    public static boolean canTransition(JobStatus from, JobStatus to) {
        return TRANSITIONS.get(from).contains(to);
    }

    /** The statuses that may follow {@code from} (unmodifiable). */
    public static Set<JobStatus> successors(JobStatus from) {
        return TRANSITIONS.get(from);
    }

    /** Whether a job in {@code status} accepts {@code verb}. */
    public static boolean accepts(JobVerb verb, JobStatus status) {
        return VERBS.get(verb).contains(status);
    }

    /** The statuses that accept {@code verb} (unmodifiable). */
    public static Set<JobStatus> acceptingStatuses(JobVerb verb) {
        return VERBS.get(verb);
    }

    /**
     * The transition chokepoint's check.
     *
     * @throws IllegalStateException when the arrow is not in the table: an engine bug
     */
    public static void checkTransition(String jobId, JobStatus from, JobStatus to) {
        if (!canTransition(from, to)) {
            throw new IllegalStateException("job '" + jobId + "': illegal transition " + from.wireName() + " -> "
                    + to.wireName());
        }
    }

    /**
     * The verb chokepoint.
     *
     * @throws JobException "Job 'ID' in state 'STATE' cannot accept command verb 'VERB'" when refused
     */
    public static void checkVerb(String jobId, JobStatus status, JobVerb verb) {
        if (!accepts(verb, status)) {
            throw JobException.generic(refusal(jobId, status, verb));
        }
    }

    /** The message of a refused verb, worded as QEMU's. */
    public static String refusal(String jobId, JobStatus status, JobVerb verb) {
        return "Job '" + jobId + "' in state '" + status.wireName() + "' cannot accept command verb '"
                + verb.wireName() + "'";
    }
}
