package dev.converge.bench.migration;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What {@code query-migrate} on the source says about one migration, in QEMU's members (converged
 * answers with the same ones).
 *
 * @param status          QEMU's MigrationStatus: completed, failed, cancelled, active, ...
 * @param totalTimeMs     {@code total-time}: from {@code migrate} to the end, ms
 * @param downtimeMs      {@code downtime}: vCPUs stopped on the source until the destination can run, ms;
 *                        -1 when not reported (the migration did not complete)
 * @param setupTimeMs     {@code setup-time}, ms; -1 when not reported
 * @param transferred     {@code ram.transferred}: bytes sent for RAM
 * @param ramTotal        {@code ram.total}: guest RAM size in bytes
 * @param mbps            {@code ram.mbps}: the bandwidth the source measured last, megabits per second
 * @param dirtySyncCount  {@code ram.dirty-sync-count}: passes over the dirty log, the first full pass included
 */
public record MigrationFigures(String status, long totalTimeMs, long downtimeMs, long setupTimeMs, long transferred,
        long ramTotal, double mbps, long dirtySyncCount) {

    /**
     * Reads the return value of {@code query-migrate}.
     *
     * @throws IllegalArgumentException when {@code status}, {@code total-time} or {@code ram} is missing,
     *         naming the member and quoting the reply
     */
    public static MigrationFigures parse(JsonNode reply) {
        String status = text(reply, "status");
        JsonNode ram = reply.get("ram");
        if (ram == null || !ram.isObject()) {
            throw new IllegalArgumentException("query-migrate: member 'ram' missing in " + reply);
        }
        return new MigrationFigures(status, number(reply, "total-time"), optional(reply, "downtime"),
                optional(reply, "setup-time"), number(ram, "transferred"), number(ram, "total"),
                ram.path("mbps").asDouble(0), number(ram, "dirty-sync-count"));
    }

    /** Effective throughput: bytes transferred ÷ total time, in MB/s (10^6 bytes). */
    public double throughputMBps() {
        return totalTimeMs <= 0 ? 0 : transferred / 1e6 / (totalTimeMs / 1e3);
    }

    /** Bytes transferred in MiB. */
    public double transferredMiB() {
        return transferred / (double) (1L << 20);
    }

    private static String text(JsonNode node, String name) {
        JsonNode v = node.get(name);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("query-migrate: member '" + name + "' missing or not a string in " + node);
        }
        return v.asText();
    }

    private static long number(JsonNode node, String name) {
        JsonNode v = node.get(name);
        if (v == null || !v.isIntegralNumber()) {
            throw new IllegalArgumentException("query-migrate: member '" + name + "' missing or not an integer in " + node);
        }
        return v.asLong();
    }

    private static long optional(JsonNode node, String name) {
        JsonNode v = node.get(name);
        return v != null && v.isIntegralNumber() ? v.asLong() : -1;
    }
}
