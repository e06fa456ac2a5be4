package dev.converge.bench.migration;

/**
 * How one (side, workload, downtime) migration ended, as the report shows it. Only
 * {@link Completed} has figures that count; the others say why not.
 */
public sealed interface Outcome {
    /** One line for the report when there are no figures. */
    String summary();

    /**
     * The migration completed and the checks passed.
     *
     * @param figures query-migrate on the source after completion
     * @param check   what was verified on the destination (state equality, guest running)
     */
    record Completed(MigrationFigures figures, String check) implements Outcome {
        @Override
        public String summary() {
            return "completed; " + check;
        }
    }

    /**
     * It did not complete within the time allowed and was cancelled (the source keeps running).
     *
     * @param figures   query-migrate on the source just before the cancel
     * @param seconds   the time allowed
     */
    record NotConverged(MigrationFigures figures, long seconds) implements Outcome {
        @Override
        public String summary() {
            return "did not converge within " + seconds + " s (" + figures.dirtySyncCount() + " passes, "
                    + Math.round(figures.transferredMiB()) + " MiB sent); cancelled";
        }
    }

    /**
     * The side cannot run this scenario (a peer not installed, a feature it lacks).
     *
     * @param reason what is missing, for the reader
     */
    record Unavailable(String reason) implements Outcome {
        @Override
        public String summary() {
            return "unavailable: " + reason;
        }
    }

    /**
     * The migration or a check failed.
     *
     * @param reason what failed, with the peer's error text
     */
    record Failed(String reason) implements Outcome {
        @Override
        public String summary() {
            return "FAILED: " + reason;
        }
    }
}
