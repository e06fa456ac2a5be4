package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What `converge job wait` knows about one job, from query-jobs results and JOB_STATUS_CHANGE
 * events. A job that passed through "aborting" failed (or was cancelled), whether or not it is
 * still listed: an auto-dismissed job vanishes right after it concludes, and its error with it.
 * Guarded by {@code this}: events arrive on the client's reader thread.
 */
final class JobWatch {
    private final String id;
    private String status = "unknown";
    private long current;
    private long total;
    private String error = "";
    private boolean aborted;
    private boolean over;

    JobWatch(String id) {
        this.id = id;
    }

    synchronized void onEvent(JsonNode event) {
        if (!"JOB_STATUS_CHANGE".equals(event.path("event").asText())
                || !id.equals(event.path("data").path("id").asText())) {
            return;
        }
        setStatus(event.path("data").path("status").asText());
    }

    synchronized void onQuery(JsonNode job) {
        current = Math.max(current, job.path("current-progress").asLong());
        total = job.path("total-progress").asLong();
        if (job.hasNonNull("error")) {
            error = job.get("error").asText();
            aborted = true;
        }
        setStatus(job.path("status").asText());
    }

    /** The job is no longer listed: it concluded and was dismissed. */
    synchronized void onVanished() {
        over = true;
    }

    private void setStatus(String s) {
        status = s;
        if (s.equals("aborting")) {
            aborted = true;
        }
        if (s.equals("concluded") || s.equals("null")) {
            over = true;
        }
    }

    synchronized boolean isOver() {
        return over;
    }

    synchronized boolean failed() {
        return aborted;
    }

    synchronized String error() {
        return error;
    }

    synchronized String status() {
        return status;
    }

    synchronized long current() {
        return current;
    }

    synchronized long total() {
        return total;
    }
}
