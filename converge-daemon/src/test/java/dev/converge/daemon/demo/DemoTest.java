package dev.converge.daemon.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, end to end: two daemon processes, the joint transaction, digests
 * compared. It must verify, and leave no process and no file behind.
 */
@Tag("integration")
class DemoTest {
    /** The demo's temporary directory goes here: other demos running at the same time (other checkouts) use /tmp. */
    @TempDir
    Path tmpRoot;

    @Test
    void theDemoMovesAndVerifiesAndLeavesNothingBehind() throws Exception {
        StringWriter out = new StringWriter();
        int status = new Demo(new PrintWriter(out, true),
                new Demo.Options(128L << 20, 32L << 20, TestTimeouts.MEDIUM, false), false, tmpRoot).run();
        assertThat(status).as(out.toString()).isZero();
        assertThat(out.toString())
                .contains("RAM digest source = destination        equal")
                .contains("disk digest source = destination       equal")
                .contains("demo: moved and verified");
        try (Stream<Path> left = Files.list(tmpRoot)) {
            assertThat(left.toList()).as("temporary directories left").isEmpty();
        }
        assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList())
                .as("child processes left").isEmpty();
    }
}
