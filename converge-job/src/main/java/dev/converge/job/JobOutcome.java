package dev.converge.job;

/**
 * How a job ended, decided once its transaction concluded it (before commit or abort runs), so
 * that drivers and listeners need not interpret the error text.
 */
public enum JobOutcome {
    /** Its transaction committed. */
    COMPLETED,
    /**
     * A force cancel addressed to this job ended it, and nothing failed before (its error is
     * QEMU's "Operation canceled").
     */
    CANCELLED,
    /**
     * Its run() or prepare() failed, or its transaction aborted because another job of it failed
     * or was cancelled (its error says which).
     */
    FAILED
}
