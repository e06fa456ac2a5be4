package dev.converge.daemon.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.job.JobDriver;
import dev.converge.job.JobOptions;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --metrics: the exposition format, and a real scrape of a daemon with a running job. */
@Tag("integration")
class MetricsTest {
    /** A sample line: name, optional labels, a number. */
    private static final Pattern SAMPLE = Pattern.compile("[a-z_]+(\\{([a-z_]+=\"[^\"]*\",?)+\\})? -?[0-9.eE+-]+");

    @TempDir
    Path dir;

    @Test
    void aMigrationJobShowsItsConvergenceFigures() throws Exception {
        var jobs = new ObjectMapper().readTree("[{\"id\": \"mig0\", \"type\": \"migration\", \"status\": \"running\", "
                + "\"current-progress\": 600, \"total-progress\": 1000, \"pass\": 3, \"dirty-rate\": 120000000, "
                + "\"remaining\": 400, \"expected-downtime\": 180, \"converged\": true, \"cpu-throttle-percentage\": 20}]");
        String text = PrometheusText.render(jobs, 300, new PrometheusText.Process(1, 2, 3.5, 4, 5, 6, 7, 8), "0.1.0");
        assertThat(text).contains(
                "converge_job_status{id=\"mig0\",type=\"migration\",status=\"running\"} 1\n",
                "# TYPE converge_job_progress_bytes_total counter\n",
                "converge_job_progress_bytes_total{id=\"mig0\",type=\"migration\"} 600\n",
                "converge_job_progress_ratio{id=\"mig0\",type=\"migration\"} 0.6\n",
                "converge_migration_pass{id=\"mig0\",type=\"migration\"} 3\n",
                "converge_migration_dirty_rate_bytes_per_second{id=\"mig0\",type=\"migration\"} 120000000\n",
                "converge_migration_expected_downtime_seconds{id=\"mig0\",type=\"migration\"} 0.18\n",
                "converge_migration_downtime_limit_seconds{id=\"mig0\",type=\"migration\"} 0.3\n",
                "converge_migration_cpu_throttle_ratio{id=\"mig0\",type=\"migration\"} 0.2\n",
                "process_cpu_seconds_total 3.5\n");
        assertWellFormed(text);
        assertThat(PrometheusText.escape("a\"b\\c\nd")).isEqualTo("a\\\"b\\\\c\\nd");
    }

    @Test
    void blockNodesShowTheirIoCounters() throws Exception {
        var mapper = new ObjectMapper();
        var stats = mapper.readTree("[{\"node-name\": \"disk0\", \"stats\": {\"rd_bytes\": 4096, \"wr_bytes\": 8192, "
                + "\"rd_operations\": 1, \"wr_operations\": 2, \"flush_operations\": 3, \"wr_total_time_ns\": 1500000000, "
                + "\"wr_highest_offset\": 65536}}]");
        String text = PrometheusText.render(mapper.readTree("[]"), -1, new PrometheusText.Process(1, 2, 3, 4, 5, 6, 7, 8),
                "0.1.0", stats);
        assertThat(text).contains("# TYPE converge_block_read_bytes_total counter\n",
                "converge_block_read_bytes_total{node=\"disk0\"} 4096\n",
                "converge_block_written_bytes_total{node=\"disk0\"} 8192\n",
                "converge_block_write_operations_total{node=\"disk0\"} 2\n",
                "converge_block_flush_operations_total{node=\"disk0\"} 3\n",
                "converge_block_write_seconds_total{node=\"disk0\"} 1.5\n",
                "converge_block_write_highest_offset_bytes{node=\"disk0\"} 65536\n");
        assertWellFormed(text);
    }

    @Test
    void aScrapeShowsTheDaemonsJobsAndItsHealth() throws Exception {
        try (Daemon daemon = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + dir.resolve("q.sock"))),
                List.of()))) {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch reported = new CountDownLatch(1);
            JobDriver<Record, Record> driver = ctx -> {
                ctx.progressRemaining(100);
                ctx.progressDone(40);
                ctx.progressRemaining(60);
                reported.countDown();
                while (!release.await(10, TimeUnit.MILLISECONDS)) {
                    ctx.checkpoint();
                }
            };
            daemon.mainLoop().call(() -> {
                daemon.jobs().start(daemon.jobs().create("job0", dev.converge.job.JobKind.plain("test"), driver, JobOptions.defaults()));
                return null;
            });
            // The driver runs on the job's own thread: the scrape must come after its progress.
            assertThat(reported.await(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            try (MetricsServer metrics = MetricsServer.start("tcp:127.0.0.1:0", daemon.registry(), daemon.mainLoop(),
                    "0.1.0"); HttpClient http = HttpClient.newHttpClient()) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + metrics.port() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
                assertThat(r.body()).contains("converge_jobs 1\n",
                        "converge_job_status{id=\"job0\",type=\"test\",status=\"running\"} 1\n",
                        "converge_job_progress_bytes_total{id=\"job0\",type=\"test\"} 40\n",
                        "converge_job_estimate_bytes{id=\"job0\",type=\"test\"} 100\n",
                        "converge_build_info{version=\"0.1.0\"} 1\n");
                assertThat(r.body()).containsPattern("process_resident_memory_bytes [1-9][0-9]*\n");
                assertWellFormed(r.body());
                HttpResponse<String> post = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + metrics.port() + "/metrics"))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(post.statusCode()).isEqualTo(405);
            } finally {
                release.countDown();
            }
        }
    }

    @Test
    void onlyTcpAddressesAreAccepted() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> MetricsServer.start("unix:/tmp/x", null, null, "v"))
                .hasMessageContaining("expected tcp:HOST:PORT");
    }

    /** Every family has HELP and TYPE before its samples; every other line is a sample. */
    private static void assertWellFormed(String text) {
        String family = null;
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                family = line.split(" ")[2];
            } else if (line.startsWith("# TYPE ")) {
                assertThat(line.split(" ")[2]).isEqualTo(family);
                assertThat(line.split(" ")[3]).isIn("gauge", "counter");
            } else {
                assertThat(line).matches(SAMPLE).startsWith(family);
            }
        }
    }
}
