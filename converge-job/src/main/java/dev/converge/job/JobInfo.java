package dev.converge.job;

import java.util.Map;
import java.util.Optional;

/**
 * A consistent, immutable snapshot of one job for query-jobs: the generic members are read
 * together under the job lock; {@code driverInfo} is the driver's {@link JobDriver#info()}.
 *
 * @param error present iff the job failed or was cancelled (human-readable, not for parsing)
 */
public record JobInfo(String id, String type, JobStatus status, long currentProgress, long totalProgress,
        Optional<String> error, Map<String, Object> driverInfo) {
    public JobInfo {
        driverInfo = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(driverInfo));
    }
}
