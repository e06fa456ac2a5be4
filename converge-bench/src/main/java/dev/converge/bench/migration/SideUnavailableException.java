package dev.converge.bench.migration;

/** A side cannot run the scenario at all (a peer not installed, a feature it lacks). */
public final class SideUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    public SideUnavailableException(String message) {
        super(message);
    }
}
