package dev.converge.qmp.client;

/** No reply (or no matching event) arrived within the given time. */
public final class QmpTimeoutException extends QmpClientException {
    private static final long serialVersionUID = 1L;

    public QmpTimeoutException(String message) {
        super(message, null);
    }
}
