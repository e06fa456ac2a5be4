package dev.converge.bench.migration;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.testing.TestTimeouts;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("integration")
class ProcessReaperTest {
    @Test
    void killsWhatItTracksButNotWhatWasForgotten() throws Exception {
        ProcessReaper reaper = new ProcessReaper();
        Process tracked = new ProcessBuilder("sleep", "600").start();
        Process forgotten = new ProcessBuilder("sleep", "600").start();
        try {
            reaper.track(tracked.toHandle());
            reaper.track(forgotten.toHandle());
            reaper.forgetPid(forgotten.pid());
            reaper.killAll();
            assertThat(tracked.waitFor(TestTimeouts.SHORT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(forgotten.isAlive()).isTrue();
        } finally {
            tracked.destroyForcibly();
            forgotten.destroyForcibly();
        }
    }
}
