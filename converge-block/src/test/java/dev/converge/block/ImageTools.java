package dev.converge.block;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/** The reference tools (qemu-img, qemu-io) for the tests of images converged writes. */
public final class ImageTools {
    public static final String IMG = "/usr/bin/qemu-img";
    public static final String IO = "/usr/bin/qemu-io";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ImageTools() {
    }

    /** Skips the test (visibly) unless qemu-img and qemu-io are installed. */
    public static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IMG)) && Files.isExecutable(Path.of(IO)),
                "qemu-img/qemu-io not installed: test skipped");
    }

    /** Runs a command that must succeed; its output. */
    public static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", List.of(cmd), out).isZero();
        return out;
    }

    /** qemu-io commands on a qcow2 image (e.g. "write -P 0x41 0 1M"). */
    public static void io(Path img, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(IO, "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(img.toString());
        assertThat(run(cmd.toArray(String[]::new))).doesNotContain("failed");
    }

    /** qemu-img info --output=json. */
    public static JsonNode info(Path img) throws Exception {
        return JSON.readTree(run(IMG, "info", "--output=json", "-U", img.toString()));
    }

    /** qemu-img check: no errors, no leaks. */
    public static void checkClean(Path img) throws Exception {
        String check = run(IMG, "check", img.toString());
        assertThat(check).contains("No errors were found on the image.").doesNotContain("leaked");
    }

    /** The image's guest contents as raw bytes (qemu-img convert -O raw, through its backing chain). */
    public static byte[] contents(Path img, Path scratch) throws Exception {
        Path raw = scratch.resolveSibling(scratch.getFileName() + ".raw");
        run(IMG, "convert", "-U", "-O", "raw", img.toString(), raw.toString());
        byte[] b = Files.readAllBytes(raw);
        Files.delete(raw);
        return b;
    }
}
