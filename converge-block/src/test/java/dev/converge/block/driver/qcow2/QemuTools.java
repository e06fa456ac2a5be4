package dev.converge.block.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** qemu-img and qemu-io as reference peers; tests skip visibly when they are not installed. */
final class QemuTools {
    static final Path QEMU_IMG = Path.of("/usr/bin/qemu-img");
    static final Path QEMU_IO = Path.of("/usr/bin/qemu-io");

    /** The exit status and the combined output of a command. */
    record Result(int status, String output) {
    }

    private QemuTools() {
    }

    static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(QEMU_IMG) && Files.isExecutable(QEMU_IO),
                "qemu-img/qemu-io not installed: qcow2 reference test skipped");
    }

    static Result run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(p.waitFor(), out);
        } catch (IOException e) {
            throw new AssertionError("could not run " + List.of(cmd), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Runs a command that must succeed; returns its output. */
    static String ok(String... cmd) {
        Result r = run(cmd);
        assertThat(r.status()).as("%s: %s", List.of(cmd), r.output()).isZero();
        return r.output();
    }

    /** qemu-img create -f qcow2 -o OPTIONS FILE SIZE. */
    static void create(Path img, String options, long size) {
        ok(QEMU_IMG.toString(), "create", "-q", "-f", "qcow2", "-o", options, img.toString(), Long.toString(size));
    }

    /** qemu-io -f qcow2 with the given -c commands. */
    static void io(Path img, String... commands) {
        List<String> cmd = new ArrayList<>(List.of(QEMU_IO.toString(), "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(img.toString());
        String out = ok(cmd.toArray(String[]::new));
        assertThat(out).as("qemu-io output").doesNotContain("failed");
    }

    /** The guest contents as qemu-img reads them. */
    static byte[] contents(Path img, Path dir) throws IOException {
        Path raw = Files.createTempFile(dir, "contents", ".raw");
        ok(QEMU_IMG.toString(), "convert", "-f", "qcow2", "-O", "raw", img.toString(), raw.toString());
        byte[] b = Files.readAllBytes(raw);
        Files.delete(raw);
        return b;
    }

    /** qemu-img check: asserts no errors and no leaks. */
    static void checkClean(Path img) {
        Result r = run(QEMU_IMG.toString(), "check", img.toString());
        assertThat(r.status()).as("qemu-img check: %s", r.output()).isZero();
        assertThat(r.output()).as("qemu-img check").contains("No errors were found on the image.")
                .doesNotContain("leaked");
    }
}
