package dev.converge.daemon.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.daemon.Daemon;
import dev.converge.daemon.DaemonConfig;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.qmp.MachineConfig;
import dev.converge.qmp.client.QmpClient;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console in a real browser during a real migration: headless Chromium loads the page
 * (with every host but 127.0.0.1 unreachable), the job table and the plots follow the migration,
 * the verdict names the problem of a guest that dirties faster than the link, and the page's
 * controls change the bandwidth and cancel the job. The screenshot is kept in
 * converge-daemon/target/web-console/ as the test's artifact.
 */
@Tag("integration")
class WebConsoleBrowserTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long LINK = 32L << 20;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    @Test
    void thePageFollowsAMigrationAndItsControlsSteerIt() throws Exception {
        Path chromium = HeadlessChromium.binary().orElse(null);
        assumeTrue(chromium != null, "no chromium here: the browser test is skipped (.ci/run installs it)");

        // A guest that rewrites its 64 MiB four times a second over a 32 MiB/s link: it cannot converge.
        String spec = "memory=64M,vcpus=1,workload=pattern,dirty-rate=256M";
        Daemon src = daemon("src", MachineConfig.of("src", MachineSpec.parse(spec)));
        daemon("dst", MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming("tcp:127.0.0.1:0"));
        QmpClient srcQmp = client("src");
        QmpClient dstQmp = client("dst");
        JsonNode listening = dstQmp.execute("query-migrate").get("socket-address").get(0);
        srcQmp.execute("migrate-set-parameters", args("{\"max-bandwidth\": " + LINK + "}"));
        WebConsole console = WebConsole.start("tcp:127.0.0.1:0", true, src.registry(), src.mainLoop(), "test");
        open.add(console);
        srcQmp.execute("migrate", args("{\"uri\": \"tcp:" + listening.get("host").asText() + ":"
                + listening.get("port").asText() + "\", \"job-id\": \"mig0\"}"));

        Path profile = Files.createDirectories(dir.resolve("chromium"));
        HeadlessChromium browser = new HeadlessChromium(chromium, profile, "http://127.0.0.1:" + console.port() + "/");
        open.add(browser);

        // The table shows the running migration, and its progress moves between polls.
        Awaitility.await("the job row").atMost(TestTimeouts.MEDIUM).until(() -> browser.eval(
                "document.querySelector('#jobs tr[data-job=mig0]')?.dataset.status ?? ''").asText().equals("running"));
        String progressBefore = progressText(browser);
        int samplesBefore = browser.eval("window.converge.samples").asInt();
        Awaitility.await("progress to move").atMost(TestTimeouts.MEDIUM)
                .until(() -> !progressText(browser).equals(progressBefore));
        // The plots grow with every poll.
        int pointsBefore = browser.eval("window.converge.plotted['chart-remaining']").asInt();
        Awaitility.await("the plot to grow").atMost(TestTimeouts.MEDIUM)
                .until(() -> browser.eval("window.converge.plotted['chart-remaining']").asInt() > pointsBefore + 2);
        assertThat(browser.eval("window.converge.samples").asInt()).isGreaterThan(samplesBefore + 2);
        assertThat(browser.eval("window.converge.failures").asInt()).isZero();
        // After the first pass the dirty rate is known: the verdict says what to turn.
        try {
            Awaitility.await("the verdict").atMost(TestTimeouts.MEDIUM).until(() -> browser.eval(
                    "document.getElementById('verdict').textContent").asText().startsWith("Not converging"));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("the verdict stayed '" + browser.eval("document.getElementById('verdict')"
                    + ".textContent").asText() + "'; last samples: "
                    + browser.eval("JSON.stringify(window.converge.history.mig0.slice(-3))").asText(), e);
        }
        assertThat(browser.eval("document.getElementById('verdict').textContent").asText())
                .contains("max-bandwidth", "downtime-limit", "postcopy");
        assertThat(browser.eval("window.converge.plotted['chart-rates']").asInt()).isPositive();
        assertThat(browser.eval("window.converge.plotted['chart-downtime']").asInt()).isPositive();

        byte[] png = browser.screenshot();
        Path artifacts = Files.createDirectories(Path.of("target", "web-console"));
        Files.write(artifacts.resolve("migration.png"), png);
        assertThat(png).startsWith(0x89, 'P', 'N', 'G');
        assertThat(png.length).isGreaterThan(10_000);

        // The controls: a bandwidth change (confirmed) reaches the migration...
        browser.eval("window.confirm = () => true; document.getElementById('knob-downtime').value = '';"
                + "document.getElementById('knob-bandwidth').value = '64';"
                + "document.querySelector('#knobs button[data-action=change]').click(); true");
        Awaitility.await("max-bandwidth from the page").atMost(TestTimeouts.MEDIUM).until(() -> srcQmp
                .execute("query-migrate-parameters").get("max-bandwidth").asLong() == 64L << 20);
        // ...and cancel (confirmed) ends it; the guest keeps running on the source.
        browser.eval("document.querySelector('button[data-action=job-cancel][data-job=mig0]').click(); true");
        Awaitility.await("the cancelled migration").atMost(TestTimeouts.MEDIUM).until(() -> srcQmp
                .execute("query-migrate").path("status").asText().equals("cancelled"));
        assertThat(srcQmp.execute("query-status").get("status").asText()).isEqualTo("running");
        Awaitility.await("the page to show it").atMost(TestTimeouts.MEDIUM).until(() -> browser.eval(
                "document.querySelector('#jobs tr[data-job=mig0]')?.dataset.status ?? 'gone'").asText()
                .matches("concluded|gone"));
    }

    private static String progressText(HeadlessChromium browser) throws Exception {
        return browser.eval("document.querySelector('#jobs tr[data-job=mig0]').children[3].textContent").asText();
    }

    private Daemon daemon(String name, MachineConfig machine) {
        Daemon d = Daemon.start(new DaemonConfig(List.of(SocketAddress.parse("unix:" + dir.resolve(name + ".qmp"))),
                List.of(), machine));
        open.add(d);
        return d;
    }

    private QmpClient client(String name) {
        QmpClient c = QmpClient.connect("unix:" + dir.resolve(name + ".qmp"));
        open.add(c);
        return c;
    }

    private static ObjectNode args(String json) throws Exception {
        return (ObjectNode) JSON.readTree(json);
    }
}
