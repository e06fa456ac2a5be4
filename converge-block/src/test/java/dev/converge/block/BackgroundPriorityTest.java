package dev.converge.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.converge.testing.TestTimeouts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Copy threads run nicer than the threads that serve the guest (issue 13). */
class BackgroundPriorityTest {
    @Test
    void theLoweredNiceValueIsTheIncrementAboveTheCurrentOneAtMost19() {
        assertThat(BackgroundPriority.loweredNice(0, 10)).isEqualTo(10);
        assertThat(BackgroundPriority.loweredNice(-5, 10)).isEqualTo(5);
        assertThat(BackgroundPriority.loweredNice(15, 10)).isEqualTo(19);
        assertThat(BackgroundPriority.loweredNice(19, 10)).isEqualTo(19);
    }

    @Test
    void aCopyThreadRunsTenNicerThanTheThreadThatMadeIt() throws Exception {
        assumeThat(Path.of("/proc/thread-self/stat")).as("Linux /proc").exists();
        int mine = niceOfThisThread();
        ThreadPoolExecutor pool = CopyThreads.pool("nice-test", 1, Duration.ofSeconds(1));
        try {
            int theirs = pool.submit(BackgroundPriorityTest::niceOfThisThread)
                    .get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(theirs).isEqualTo(BackgroundPriority.loweredNice(mine, BackgroundPriority.COPY_NICE_INCREMENT));
            assertThat(niceOfThisThread()).as("the caller keeps its priority").isEqualTo(mine);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Field 19 of /proc/thread-self/stat (after the command name in parentheses). */
    static int niceOfThisThread() throws Exception {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(fields[16]); // field 3 is fields[0]
    }
}
