package dev.converge.nbd.testing;

import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs an external peer (qemu-img, nbdinfo...) with a scaled timeout; tests skip visibly when it is absent. */
public final class Peers {
    private Peers() {
    }

    public record Result(int exit, String out, String err) {
        public Result ok() {
            if (exit != 0) {
                throw new AssertionError("exit " + exit + "\nstdout: " + out + "\nstderr: " + err);
            }
            return this;
        }
    }

    public static void assume(String tool) {
        boolean present = List.of("/usr/bin/", "/usr/local/bin/").stream()
                .anyMatch(d -> Files.isExecutable(Path.of(d + tool)));
        Assumptions.assumeTrue(present, tool + " is not installed: skipping");
    }

    public static Result run(String... command) throws IOException, InterruptedException {
        assume(command[0]);
        Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        if (!p.waitFor(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + ": timed out after " + TestTimeouts.LONG);
        }
        return new Result(p.exitValue(), out.join(), err.join());
    }

    private static String drain(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<" + e + ">";
        }
    }
}
