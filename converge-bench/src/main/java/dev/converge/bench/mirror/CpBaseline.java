package dev.converge.bench.mirror;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** {@code cp --sparse=always SRC DST}, timed from start to exit, then checked as a mirror is. */
final class CpBaseline {
    private CpBaseline() {
    }

    /** Copies {@code source} to a fresh {@code target}, compares, deletes the target. */
    static RunOutcome run(Images.Image source, Path target, Duration deadline) throws InterruptedException {
        try {
            Files.deleteIfExists(target);
            RunOutcome copied = copy(source.path(), target, deadline);
            if (copied instanceof RunOutcome.Ready) {
                long diff = FileCompare.firstDifference(source.path(), target);
                if (diff >= 0) {
                    return new RunOutcome.Failed("cp target differs from source at byte " + diff);
                }
            }
            return copied;
        } catch (IOException e) {
            return new RunOutcome.Failed("cp: " + e.getMessage());
        } finally {
            try {
                Files.deleteIfExists(target);
            } catch (IOException e) {
                System.err.println("cannot delete " + target + ": " + e.getMessage());
            }
        }
    }

    /**
     * Runs {@code cp --sparse=always SOURCE TARGET}: {@link RunOutcome.Ready} with its time from
     * start to exit (nothing compared), {@link RunOutcome.NotReady} past the deadline (cp killed),
     * {@link RunOutcome.Failed} with cp's output when it exits non-zero.
     */
    static RunOutcome copy(Path source, Path target, Duration deadline) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder("cp", "--sparse=always", source.toString(), target.toString())
                .redirectErrorStream(true).start();
        if (!p.waitFor(deadline.toNanos(), TimeUnit.NANOSECONDS)) {
            p.destroyForcibly().waitFor();
            return new RunOutcome.NotReady(deadline.toSeconds(), null);
        }
        long took = System.nanoTime() - t0;
        String output = new String(p.getInputStream().readAllBytes()).strip();
        if (p.exitValue() != 0) {
            return new RunOutcome.Failed("cp exited with " + p.exitValue() + ": " + output);
        }
        return new RunOutcome.Ready(took, null);
    }
}
