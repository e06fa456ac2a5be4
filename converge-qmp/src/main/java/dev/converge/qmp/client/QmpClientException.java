package dev.converge.qmp.client;

/**
 * Why a {@link QmpClient} call failed: the server answered with an error
 * ({@link QmpCommandException}), no answer came in time ({@link QmpTimeoutException}), or the
 * connection failed or closed ({@link QmpConnectionException}).
 */
public abstract sealed class QmpClientException extends RuntimeException
        permits QmpCommandException, QmpTimeoutException, QmpConnectionException {
    private static final long serialVersionUID = 1L;

    QmpClientException(String message, Throwable cause) {
        super(message, cause);
    }
}
