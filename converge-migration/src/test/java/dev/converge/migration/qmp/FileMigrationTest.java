package dev.converge.migration.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.migration.machine.MachineSpec;
import dev.converge.migration.machine.PatternWorkload;
import dev.converge.qmp.client.QmpCommandException;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** file: migrations between two in-process daemons, driven through QMP: save, restore, refusals. */
@Tag("integration")
class FileMigrationTest {
    private static final String SPEC = "memory=64M,vcpus=2,workload=pattern,dirty-rate=8M";

    @TempDir
    Path dir;

    private final List<Peer> peers = new ArrayList<>();

    @AfterEach
    void closePeers() {
        peers.reversed().forEach(Peer::close);
    }

    private Peer source(String spec) {
        Peer p = new Peer(MachineConfig.of("src", MachineSpec.parse(spec)));
        peers.add(p);
        return p;
    }

    private Peer restorer(String spec) {
        return restorer(spec, false);
    }

    /** A daemon started with --incoming defer (and -S when {@code startPaused}). */
    private Peer restorer(String spec, boolean startPaused) {
        Peer p = new Peer(MachineConfig.of("dst", MachineSpec.parse(spec)).withIncoming(MachineConfig.DEFER)
                .withStartPaused(startPaused));
        peers.add(p);
        return p;
    }

    /** Saves {@code src} into {@code uri} (or the channels form) and waits until completed. */
    private static void save(Peer src, String args) {
        src.exec("migrate", args);
        await().atMost(TestTimeouts.LONG).until(() -> List.of("completed", "failed").contains(src.migrationStatus()));
        assertThat(src.exec("query-migrate").path("error-desc").asText()).isEmpty();
        assertThat(src.migrationStatus()).isEqualTo("completed");
    }

    private static JsonNode restore(Peer dst, String args) {
        dst.exec("migrate-incoming", args);
        await().atMost(TestTimeouts.LONG).until(() -> List.of("completed", "failed").contains(dst.migrationStatus()));
        return dst.exec("query-migrate");
    }

    @ParameterizedTest(name = "mapped-ram {0}")
    @ValueSource(booleans = {true, false})
    void aRunningMachineSavedToAFileRestoresInAnotherDaemon(boolean mappedRam) {
        Peer src = source(SPEC);
        PatternWorkload w = (PatternWorkload) src.machine().workload();
        await().atMost(TestTimeouts.SHORT).until(() -> w.progress() > 1000);
        if (mappedRam) {
            src.capabilities("events", "mapped-ram");
        } else {
            src.capabilities("events");
        }
        Path file = dir.resolve("vm.state");
        save(src, "{\"uri\": \"file:" + file + "\"}");
        assertThat(src.status()).as("as QEMU: the source stays in postmigrate").isEqualTo("postmigrate");
        assertThat(src.client().awaitEvent("STOP", TestTimeouts.LONG)).isNotNull();
        if (mappedRam) {
            // Live: passes while the guest ran, then the last one stopped; pages rewritten in place,
            // so the file is no larger than RAM (plus header, bitmap and device state).
            assertThat(src.exec("query-migrate").get("ram").get("dirty-sync-count").asLong()).isGreaterThanOrEqualTo(2);
            assertThat(file.toFile().length()).isLessThan((64L << 20) + (2L << 20));
        }

        Peer dst = restorer(SPEC, true);
        if (mappedRam) {
            dst.capabilities("mapped-ram");
        }
        JsonNode info = restore(dst, "{\"uri\": \"file:" + file + "\"}");
        assertThat(info.get("status").asText()).isEqualTo("completed");
        assertThat(info.get("ram").get("normal").asLong()).isPositive();
        assertThat(dst.status()).as("-S keeps it paused").isEqualTo("paused");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
        PatternWorkload dw = (PatternWorkload) dst.machine().workload();
        assertThat(dw.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
        assertThat(dw.progress()).isEqualTo(w.progress());
        dst.exec("cont");
        await().atMost(TestTimeouts.SHORT).until(() -> dw.progress() > w.progress() + 500);
    }

    @Test
    void aPausedMachineSavedAtAnOffsetRestoresPausedAndTheFileIsSparse() throws Exception {
        String idle = "memory=64M,vcpus=1,workload=idle";
        Peer src = source(idle);
        src.capabilities("mapped-ram");
        src.exec("stop");
        Path file = dir.resolve("paused.state");
        Files.write(file, new byte[] {'h', 'e', 'a', 'd'});
        // the channels form, as QEMU 10.0's
        save(src, "{\"channels\": [{\"channel-type\": \"main\", \"addr\": {\"transport\": \"file\", \"filename\": \""
                + file + "\", \"offset\": 1048576}}]}");
        byte[] head = new byte[4];
        try (FileChannel ch = FileChannel.open(file)) {
            ch.read(ByteBuffer.wrap(head), 0);
        }
        assertThat(new String(head, java.nio.charset.StandardCharsets.US_ASCII)).as("before the offset: untouched")
                .isEqualTo("head");
        assertThat(allocatedBytes(file)).as("an idle machine's zero pages are holes")
                .isLessThan(Files.size(file) / 4);

        Peer dst = restorer(idle);
        JsonNode info = restore(dst, "{\"uri\": \"file:" + file + ",offset=1M\"}");
        assertThat(info.get("status").asText()).isEqualTo("completed");
        assertThat(dst.status()).as("the source was paused: so is the restored machine").isEqualTo("paused");
        assertThat(dst.exec("query-machine-digest")).isEqualTo(src.exec("query-machine-digest"));
    }

    @Test
    void badTargetsAreRefusedWithClearErrors() throws IOException {
        Peer src = source("memory=16M,vcpus=1,workload=idle");
        assertError(src, "migrate", "{\"uri\": \"file:" + dir.resolve("x") + ",offset=12Q\"}", "file URI has bad offset 12Q");
        assertError(src, "migrate", "{\"uri\": \"file:\"}", "file URI has no file name");
        src.capabilities("mapped-ram");
        assertError(src, "migrate", "{\"uri\": \"tcp:127.0.0.1:1\"}", "Mapped-ram migration requires a file: URI");
        assertError(src, "migrate-set-parameters", "{\"multifd-compression\": \"zstd\"}",
                "Mapped-ram only available for non-compressed non-TLS multifd migration");
        src.exec("migrate", "{\"uri\": \"file:" + dir.resolve("no/such/dir/vm.state") + "\"}");
        await().atMost(TestTimeouts.LONG).until(() -> src.migrationStatus().equals("failed"));
        assertThat(src.exec("query-migrate").get("error-desc").asText()).contains("Could not open")
                .contains("No such file or directory");
        assertThat(src.status()).as("nothing was stopped").isEqualTo("running");

        Peer dst = restorer("memory=16M,vcpus=1,workload=idle");
        assertError(dst, "migrate-incoming", "{\"uri\": \"file:" + dir.resolve("missing") + "\"}",
                "Could not open '" + dir.resolve("missing") + "': No such file or directory");
        Files.write(dir.resolve("text"), "not a migration".repeat(400).getBytes());
        assertThat(restore(dst, "{\"uri\": \"file:" + dir.resolve("text") + "\"}").get("error-desc").asText())
                .contains("it is not a converge migration file");
        assertThat(dst.status()).isEqualTo("inmigrate");
    }

    @Test
    void aTruncatedOrCorruptFileIsRefusedAndTheRamDiscarded() throws IOException {
        String spec = "memory=16M,vcpus=1,workload=pattern,dirty-rate=4M";
        Peer src = source(spec);
        Path file = dir.resolve("vm.state");
        save(src, "{\"uri\": \"file:" + file + "\"}");
        long size = Files.size(file);

        Path truncated = dir.resolve("truncated");
        Files.copy(file, truncated);
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        Peer dst = restorer(spec);
        assertThat(restore(dst, "{\"uri\": \"file:" + truncated + "\"}").get("error-desc").asText())
                .contains("it is truncated");

        Path corrupt = dir.resolve("corrupt");
        Files.copy(file, corrupt);
        try (FileChannel ch = FileChannel.open(corrupt, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            long at = 4096 + 8 + 100; // inside the first page record's data
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x40)).clear();
            ch.write(b, at);
        }
        assertThat(restore(dst, "{\"uri\": \"file:" + corrupt + "\"}").get("error-desc").asText())
                .contains("does not match the digest");

        Path header = dir.resolve("header");
        Files.copy(file, header);
        try (FileChannel ch = FileChannel.open(header, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {9}), 20);
        }
        assertThat(restore(dst, "{\"uri\": \"file:" + header + "\"}").get("error-desc").asText())
                .contains("header checksum does not match");
        assertThat(dst.status()).isEqualTo("inmigrate");

        // and the good file still restores on the same daemon after those failures; the source ran, so it runs
        assertThat(restore(dst, "{\"uri\": \"file:" + file + "\"}").get("status").asText()).isEqualTo("completed");
        assertThat(dst.status()).isEqualTo("running");
        dst.exec("stop");
        PatternWorkload dw = (PatternWorkload) dst.machine().workload();
        assertThat(dw.checkInvariant(dst.machine().ram().blocks().get(0))).isEmpty();
        assertThat(dw.progress()).isGreaterThanOrEqualTo(((PatternWorkload) src.machine().workload()).progress());
    }

    private static long allocatedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("du", "-B1", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        p.waitFor();
        return Long.parseLong(out.split("\\s+")[0]);
    }

    private static void assertError(Peer p, String command, String args, String message) {
        assertThatThrownBy(() -> p.exec(command, args)).isInstanceOf(QmpCommandException.class)
                .satisfies(e -> assertThat(((QmpCommandException) e).desc()).contains(message));
    }
}
