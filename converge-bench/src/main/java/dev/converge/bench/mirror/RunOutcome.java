package dev.converge.bench.mirror;

import java.util.Locale;

/** How one mirror (or cp) run ended. Only {@link Ready} has a time that counts. */
public sealed interface RunOutcome {
    /** One line for the report's notes. */
    String summary();

    /**
     * The mirror became READY, was soft-cancelled, and the target equals the source.
     *
     * @param readyNanos from the reply to blockdev-mirror to the BLOCK_JOB_READY event (for cp: the whole copy)
     * @param writer     what the paced writer did during the run, or null without one
     * @param fio          what fio saw from blockdev-mirror to BLOCK_JOB_COMPLETED, or null without fio
     * @param compared   the target was compared with the source (false only for the cp beside fio,
     *                   whose source fio changes during the copy)
     */
    record Ready(long readyNanos, PacedWriter.Figures writer, WriterLatency.Stats fio, boolean compared)
            implements RunOutcome {
        Ready(long readyNanos, PacedWriter.Figures writer) {
            this(readyNanos, writer, null, true);
        }

        Ready(long readyNanos, PacedWriter.Figures writer, WriterLatency.Stats fio) {
            this(readyNanos, writer, fio, true);
        }

        @Override
        public String summary() {
            String w = writer == null ? "" : String.format(Locale.ROOT, "; writer %d × 64 KiB at %.1f MiB/s",
                    writer.writes(), writer.mibPerSecond());
            if (fio != null) {
                w += "; fio during the mirror: " + fio.summary();
            }
            if (!compared) {
                return String.format(Locale.ROOT, "copied in %.1f ms (not compared)%s", readyNanos / 1e6,
                        w.replace("during the mirror", "during the copy"));
            }
            return String.format(Locale.ROOT, "ready in %.1f ms, target == source%s", readyNanos / 1e6, w);
        }
    }

    /**
     * No BLOCK_JOB_READY within the deadline (the writer outran the copy); the job was cancelled.
     *
     * @param seconds the deadline
     * @param writer  what the writer did
     */
    record NotReady(long seconds, PacedWriter.Figures writer) implements RunOutcome {
        @Override
        public String summary() {
            return "not ready within " + seconds + " s; cancelled";
        }
    }

    /**
     * The side cannot run this case (a command it does not have, a peer not installed).
     *
     * @param reason what is missing
     */
    record Unavailable(String reason) implements RunOutcome {
        @Override
        public String summary() {
            return "unavailable: " + reason;
        }
    }

    /**
     * The run or its check failed (an error from the daemon, or the target differs).
     *
     * @param reason what failed, with the daemon's text
     */
    record Failed(String reason) implements RunOutcome {
        @Override
        public String summary() {
            return "FAILED: " + reason;
        }
    }
}
