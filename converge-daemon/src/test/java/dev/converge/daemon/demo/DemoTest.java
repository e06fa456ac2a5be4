package dev.converge.daemon.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The README's first command, end to end: two daemon processes, the joint transaction, digests
 * compared. It must verify, and leave no process and no file behind.
 */
@Tag("integration")
class DemoTest {
    @Test
    void theDemoMovesAndVerifiesAndLeavesNothingBehind() throws Exception {
        List<Path> before = demoDirs();
        StringWriter out = new StringWriter();
        int status = new Demo(new PrintWriter(out, true),
                new Demo.Options(128L << 20, 32L << 20, TestTimeouts.MEDIUM, false), false).run();
        assertThat(status).as(out.toString()).isZero();
        assertThat(out.toString())
                .contains("RAM digest source = destination        equal")
                .contains("disk digest source = destination       equal")
                .contains("demo: moved and verified");
        // Only new directories count: other demos on this host (other checkouts' tests) come and go meanwhile.
        assertThat(demoDirs()).as("temporary directories left").isSubsetOf(before);
        assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList())
                .as("child processes left").isEmpty();
    }

    private static List<Path> demoDirs() throws Exception {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("converge-demo")).sorted().toList();
        }
    }
}
