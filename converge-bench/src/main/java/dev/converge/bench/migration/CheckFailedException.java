package dev.converge.bench.migration;

/** A correctness check of the benchmark failed: the guest misbehaved or the migration lost state. */
public final class CheckFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CheckFailedException(String message) {
        super(message);
    }

    public CheckFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
