package dev.converge.job;

import java.util.Optional;

/**
 * A consistent, immutable snapshot of one job for query-jobs: the generic members are read
 * together under the job lock; {@code driverInfo} is the driver's {@link JobDriver#info()}, read
 * after it (outside the lock), a record of the job kind's info type.
 *
 * @param error      present iff the job failed or was cancelled (human-readable, not for parsing)
 * @param driverInfo the kind's own members, empty when the kind has none
 */
public record JobInfo(String id, String type, JobStatus status, long currentProgress, long totalProgress,
        Optional<String> error, Optional<Record> driverInfo) {
}
