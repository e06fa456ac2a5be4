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
            ProcessBuilder pb = new ProcessBuilder("cp", "--sparse=always", source.path().toString(), target.toString())
                    .redirectErrorStream(true);
            long t0 = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(deadline.toNanos(), TimeUnit.NANOSECONDS)) {
                p.destroyForcibly().waitFor();
                return new RunOutcome.NotReady(deadline.toSeconds(), null);
            }
            long took = System.nanoTime() - t0;
            String output = new String(p.getInputStream().readAllBytes()).strip();
            if (p.exitValue() != 0) {
                return new RunOutcome.Failed("cp exited with " + p.exitValue() + ": " + output);
            }
            long diff = FileCompare.firstDifference(source.path(), target);
            if (diff >= 0) {
                return new RunOutcome.Failed("cp target differs from source at byte " + diff);
            }
            return new RunOutcome.Ready(took, null);
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
}
