package dev.converge.daemon;

/** The daemon could not start; the message says what (a bad --blockdev, an address in use...). */
public final class DaemonStartException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DaemonStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
