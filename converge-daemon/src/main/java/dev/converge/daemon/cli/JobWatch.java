package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What `converge job wait` knows about one job, from query-jobs results and JOB_STATUS_CHANGE
 * events. A job that passed through "aborting" failed (or was cancelled), whether or not it is
 * still listed: an auto-dismissed job vanishes right after it concludes, and its error with it.
 * Guarded by {@code this}: events arrive on the client's reader thread, queries on the caller's.
 */
final class JobWatch {
    /** The rate is the progress over the last 3 s: steady enough to read, recent enough to follow a change. */
    private static final long RATE_WINDOW_NANOS = 3_000_000_000L;

    private final String id;
    private final RateMeter rate = new RateMeter(RATE_WINDOW_NANOS);
    private String type = "";
    private String status = "unknown";
    private long current;
    private long total;
    private String error = "";
    private boolean aborted;
    private boolean over;
    /** The last query-jobs entry: a migration's pass, dirty rate, expected downtime and throttle. */
    private JsonNode last;

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

    /** A query-jobs entry for the job, taken at {@code nanos} (System.nanoTime or a test's clock). */
    synchronized void onQuery(JsonNode job, long nanos) {
        last = job;
        type = job.path("type").asText();
        current = Math.max(current, job.path("current-progress").asLong());
        total = job.path("total-progress").asLong();
        rate.add(nanos, current);
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
        if (over) {
            return; // "null" (dismissed) after "concluded" would read as a status
        }
        status = s;
        if (s.equals("aborting")) {
            aborted = true;
        }
        if (s.equals("concluded") || s.equals("null")) {
            over = true;
        }
    }

    /**
     * The line's content now. A migration's ETA is the time until its dirty remainder is sent at
     * the rate it outruns the guest's dirtying (unknown while the guest keeps up); other jobs'
     * is the remainder of their total at the current rate.
     *
     * @param downtimeLimitMs the migration's downtime-limit, -1 when unknown or not a migration
     */
    synchronized JobView view(long downtimeLimitMs) {
        double perSecond = rate.perSecond();
        JobView v = JobView.basic(id, type, status, current, total);
        if (!isMigration()) {
            long eta = perSecond > 0 ? (long) Math.ceil((total - current) / perSecond) : -1;
            return v.withRate(perSecond, Math.max(-1, eta));
        }
        long remaining = last.path("remaining").asLong(-1);
        long dirty = last.path("dirty-rate").asLong(-1);
        double net = perSecond - Math.max(0, dirty);
        long eta = remaining >= 0 && net > 0 ? (long) Math.ceil(remaining / net) : -1;
        return v.withRate(perSecond, eta).withMigration(last.path("pass").asLong(-1), dirty,
                last.path("expected-downtime").asLong(-1), downtimeLimitMs,
                last.path("cpu-throttle-percentage").asInt(0));
    }

    synchronized boolean isMigration() {
        return "migration".equals(type) && last != null;
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
}
