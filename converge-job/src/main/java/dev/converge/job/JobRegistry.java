package dev.converge.job;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The live jobs by id, in creation order. Guarded by the job lock rather than a concurrent map
 * because lookups go with status checks and transitions that must be atomic with them.
 */
final class JobRegistry {
    private final JobLock lock;
    /** Live jobs (not yet dismissed), in creation order; guarded by {@link #lock}. */
    private final Map<String, Job> jobs = new LinkedHashMap<>();

    JobRegistry(JobLock lock) {
        this.lock = lock;
    }

    Job findLocked(String id) {
        assert lock.isHeldByCurrentThread();
        return jobs.get(id);
    }

    /** The job, or the user error "Job not found". */
    Job getLocked(String id) {
        Job job = findLocked(id);
        if (job == null) {
            throw JobException.notFound();
        }
        return job;
    }

    void addLocked(Job job) {
        assert lock.isHeldByCurrentThread();
        if (jobs.putIfAbsent(job.id(), job) != null) {
            throw new IllegalStateException("job id in use: " + job.id());
        }
    }

    List<Job> listLocked() {
        assert lock.isHeldByCurrentThread();
        return new ArrayList<>(jobs.values());
    }

    /** CONCLUDED (or CREATED) → NULL, and the job is gone. */
    void dismissLocked(Job job) {
        assert lock.isHeldByCurrentThread();
        job.transitionLocked(JobStatus.NULL);
        jobs.remove(job.id(), job);
    }
}
