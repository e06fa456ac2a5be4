package dev.converge.daemon.cli;

/**
 * What one status line of `converge job wait` shows about a job at one moment. Unknown numbers
 * are negative (or NaN for rates): the line leaves them out.
 *
 * @param id                 job id
 * @param type               job type (mirror, migration, ...)
 * @param status             job status (QEMU's JobStatus)
 * @param current            work done, bytes
 * @param total              current estimate of all work, bytes (0 unknown)
 * @param bytesPerSecond     progress rate over the last seconds (NaN unknown)
 * @param etaSeconds         seconds until the remainder is done at that rate (-1 unknown or never)
 * @param pass               a migration's passes over RAM (-1: not a migration)
 * @param dirtyRate          a migration's guest dirty rate, bytes/s (-1 unknown)
 * @param expectedDowntimeMs a migration's switchover estimate (-1 unknown)
 * @param downtimeLimitMs    its downtime-limit (-1 unknown)
 * @param throttlePercent    auto-converge's throttle on the vCPUs (-1 or 0: none)
 */
record JobView(String id, String type, String status, long current, long total, double bytesPerSecond,
        long etaSeconds, long pass, long dirtyRate, long expectedDowntimeMs, long downtimeLimitMs,
        int throttlePercent) {

    /** A job without rates or migration numbers. */
    static JobView basic(String id, String type, String status, long current, long total) {
        return new JobView(id, type, status, current, total, Double.NaN, -1, -1, -1, -1, -1, -1);
    }

    JobView withRate(double bytesPerSecond, long etaSeconds) {
        return new JobView(id, type, status, current, total, bytesPerSecond, etaSeconds, pass, dirtyRate,
                expectedDowntimeMs, downtimeLimitMs, throttlePercent);
    }

    JobView withMigration(long pass, long dirtyRate, long expectedDowntimeMs, long downtimeLimitMs, int throttle) {
        return new JobView(id, type, status, current, total, bytesPerSecond, etaSeconds, pass, dirtyRate,
                expectedDowntimeMs, downtimeLimitMs, throttle);
    }

    /** What the operator does next, when the job waits for them; empty otherwise. */
    String nextStep() {
        return switch (status) {
            case "ready" -> "next: converge job complete " + id;
            case "pending" -> "next: converge job finalize " + id;
            case "paused", "standby" -> "next: converge job resume " + id;
            default -> "";
        };
    }
}
