package dev.converge.bench.mirror;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * Starts every measured run from the same page-cache state: no dirty data left by the run before.
 *
 * <p>Why: a copy of 2 GiB into a file with the writeback cache leaves about as much dirty data as the
 * kernel's background threshold (10 % of available memory here). The run after it then pays for that
 * writeback through dirty-page throttling, whichever daemon it is: without this, runs alternated
 * fast (0.6 s) and slow (4.8 s) regardless of the side, and the side that happened to go first more
 * often lost the median. {@code sync} before each run makes a run measure only its own writes.
 */
final class DirtyPages {
    private DirtyPages() {
    }

    /** Runs {@code sync(1)}: returns when the dirty data of earlier runs is on disk. */
    static void settle() throws InterruptedException {
        try {
            Process p = new ProcessBuilder("sync").redirectErrorStream(true).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                System.err.println("sync did not end within 120 s; the next run may pay for earlier writeback");
            }
        } catch (IOException e) {
            System.err.println("sync: " + e.getMessage());
        }
    }
}
