package dev.converge.qmp.client;

/** The connection could not be made, broke, or was closed, or the server spoke something other than QMP. */
public final class QmpConnectionException extends QmpClientException {
    private static final long serialVersionUID = 1L;

    public QmpConnectionException(String message, Throwable cause) {
        super(message, cause);
    }
}
