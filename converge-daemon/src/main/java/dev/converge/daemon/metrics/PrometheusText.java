package dev.converge.daemon.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Prometheus text exposition format (version 0.0.4) of one scrape: per job (from
 * query-jobs) its status, progress and, for a migration, pass, dirty rate, remaining bytes,
 * expected downtime against the limit and throttle; then the process's health. Names follow
 * Prometheus conventions: {@code converge_} prefix, base units (bytes, seconds, ratios 0..1),
 * {@code _total} for counters, labels {@code id} and {@code type}. Pure: input in, text out.
 */
public final class PrometheusText {
    /** Process figures, read by the caller from /proc and the JVM. */
    public record Process(double residentBytes, double virtualBytes, double cpuSeconds, double startTimeSeconds,
            double openFds, double heapUsedBytes, double heapCommittedBytes, double threads) {
    }

    private PrometheusText() {
    }

    /**
     * @param jobs            query-jobs' answer
     * @param downtimeLimitMs the migration downtime-limit (query-migrate-parameters), -1 when unknown
     */
    public static String render(JsonNode jobs, long downtimeLimitMs, Process p, String version) {
        return render(jobs, downtimeLimitMs, p, version, null);
    }

    /**
     * @param blockstats query-blockstats' answer with query-nodes (every named node), or null
     */
    public static String render(JsonNode jobs, long downtimeLimitMs, Process p, String version, JsonNode blockstats) {
        Map<String, Family> families = new LinkedHashMap<>();
        family(families, "converge_build_info", "gauge", "converge's version (always 1)")
                .add(Map.of("version", version), 1);
        family(families, "converge_jobs", "gauge", "jobs the daemon has now (query-jobs)").add(Map.of(), jobs.size());
        for (JsonNode j : jobs) {
            Map<String, String> l = labels(j);
            Map<String, String> ls = new LinkedHashMap<>(l);
            ls.put("status", j.path("status").asText());
            family(families, "converge_job_status", "gauge", "1 for the job's current status (QEMU's JobStatus)")
                    .add(ls, 1);
            long done = j.path("current-progress").asLong();
            long total = j.path("total-progress").asLong();
            family(families, "converge_job_progress_bytes_total", "counter",
                    "work done by the job, bytes (rate() of it is the job's throughput)").add(l, done);
            family(families, "converge_job_estimate_bytes", "gauge",
                    "the job's current estimate of all its work, bytes (grows as the guest dirties data)").add(l, total);
            family(families, "converge_job_progress_ratio", "gauge", "work done over the current estimate, 0..1")
                    .add(l, total > 0 ? Math.min(1.0, (double) done / total) : 0);
            family(families, "converge_job_failed", "gauge", "1 when the job has an error").add(l,
                    j.hasNonNull("error") ? 1 : 0);
            if ("migration".equals(j.path("type").asText())) {
                family(families, "converge_migration_pass", "gauge", "passes over guest RAM so far").add(l,
                        j.path("pass").asLong());
                family(families, "converge_migration_dirty_rate_bytes_per_second", "gauge",
                        "bytes the guest dirtied per second over the last pass").add(l, j.path("dirty-rate").asLong());
                family(families, "converge_migration_remaining_bytes", "gauge", "bytes of RAM still dirty").add(l,
                        j.path("remaining").asLong());
                if (j.has("expected-downtime")) {
                    family(families, "converge_migration_expected_downtime_seconds", "gauge",
                            "how long the switchover would stop the guest now").add(l,
                            j.get("expected-downtime").asLong() / 1000.0);
                }
                if (downtimeLimitMs >= 0) {
                    family(families, "converge_migration_downtime_limit_seconds", "gauge",
                            "the downtime-limit the switchover must fit").add(l, downtimeLimitMs / 1000.0);
                }
                family(families, "converge_migration_converged", "gauge",
                        "1 when the remainder fits the downtime-limit now").add(l, j.path("converged").asBoolean() ? 1 : 0);
                family(families, "converge_migration_cpu_throttle_ratio", "gauge",
                        "auto-converge's throttle on the vCPUs, 0..1").add(l,
                        j.path("cpu-throttle-percentage").asInt(0) / 100.0);
            }
        }
        if (blockstats != null) {
            nodes(families, blockstats);
        }
        family(families, "process_resident_memory_bytes", "gauge", "resident memory").add(Map.of(), p.residentBytes());
        family(families, "process_virtual_memory_bytes", "gauge", "virtual memory").add(Map.of(), p.virtualBytes());
        family(families, "process_cpu_seconds_total", "counter", "user and system CPU time").add(Map.of(), p.cpuSeconds());
        family(families, "process_start_time_seconds", "gauge", "start time since the epoch").add(Map.of(),
                p.startTimeSeconds());
        family(families, "process_open_fds", "gauge", "open file descriptors").add(Map.of(), p.openFds());
        family(families, "converge_jvm_heap_used_bytes", "gauge", "Java heap in use").add(Map.of(), p.heapUsedBytes());
        family(families, "converge_jvm_heap_committed_bytes", "gauge", "Java heap committed").add(Map.of(),
                p.heapCommittedBytes());
        family(families, "process_threads", "gauge", "OS threads").add(Map.of(), p.threads());
        StringBuilder sb = new StringBuilder();
        for (Family f : families.values()) {
            f.write(sb);
        }
        return sb.toString();
    }

    /** Per-node I/O counters: query-blockstats' BlockDeviceStats of each named node, labelled {@code node}. */
    private static final String[][] NODE_COUNTERS = {
            {"rd_bytes", "converge_block_read_bytes_total", "bytes read from the node"},
            {"wr_bytes", "converge_block_written_bytes_total", "bytes written to the node (write-zeroes included)"},
            {"unmap_bytes", "converge_block_unmapped_bytes_total", "bytes discarded on the node"},
            {"rd_operations", "converge_block_read_operations_total", "read requests completed"},
            {"wr_operations", "converge_block_write_operations_total", "write requests completed"},
            {"flush_operations", "converge_block_flush_operations_total", "flush requests completed"},
            {"unmap_operations", "converge_block_unmap_operations_total", "discard requests completed"},
            {"failed_rd_operations", "converge_block_failed_read_operations_total", "read requests that failed"},
            {"failed_wr_operations", "converge_block_failed_write_operations_total", "write requests that failed"},
            {"failed_flush_operations", "converge_block_failed_flush_operations_total", "flush requests that failed"},
            {"invalid_rd_operations", "converge_block_invalid_read_operations_total",
                    "read requests refused (bad range)"},
            {"invalid_wr_operations", "converge_block_invalid_write_operations_total",
                    "write requests refused (bad range, read-only node)"}};
    private static final String[][] NODE_SECONDS = {
            {"rd_total_time_ns", "converge_block_read_seconds_total", "time spent in reads"},
            {"wr_total_time_ns", "converge_block_write_seconds_total", "time spent in writes"},
            {"flush_total_time_ns", "converge_block_flush_seconds_total", "time spent in flushes"}};

    private static void nodes(Map<String, Family> families, JsonNode blockstats) {
        for (JsonNode n : blockstats) {
            Map<String, String> l = Map.of("node", n.path("node-name").asText());
            JsonNode s = n.path("stats");
            for (String[] c : NODE_COUNTERS) {
                family(families, c[1], "counter", c[2]).add(l, s.path(c[0]).asLong());
            }
            for (String[] c : NODE_SECONDS) {
                family(families, c[1], "counter", c[2]).add(l, s.path(c[0]).asLong() / 1e9);
            }
            family(families, "converge_block_write_highest_offset_bytes", "gauge",
                    "the end of the highest write to the node").add(l, s.path("wr_highest_offset").asLong());
        }
    }

    private static Map<String, String> labels(JsonNode job) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put("id", job.path("id").asText());
        l.put("type", job.path("type").asText());
        return l;
    }

    private static Family family(Map<String, Family> all, String name, String type, String help) {
        return all.computeIfAbsent(name, n -> new Family(n, type, help));
    }

    private record Sample(Map<String, String> labels, double value) {
    }

    private record Family(String name, String type, String help, List<Sample> samples) {
        Family(String name, String type, String help) {
            this(name, type, help, new java.util.ArrayList<>());
        }

        Family add(Map<String, String> labels, double value) {
            samples.add(new Sample(labels, value));
            return this;
        }

        void write(StringBuilder sb) {
            sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
            sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
            for (Sample s : samples) {
                sb.append(name);
                if (!s.labels().isEmpty()) {
                    sb.append('{');
                    boolean first = true;
                    for (Map.Entry<String, String> e : s.labels().entrySet()) {
                        sb.append(first ? "" : ",").append(e.getKey()).append("=\"").append(escape(e.getValue())).append('"');
                        first = false;
                    }
                    sb.append('}');
                }
                sb.append(' ').append(number(s.value())).append('\n');
            }
        }
    }

    /** Label values escape backslash, double quote and newline. */
    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    private static String number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%s", v);
    }
}
