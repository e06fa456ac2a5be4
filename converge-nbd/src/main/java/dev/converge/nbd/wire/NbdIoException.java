package dev.converge.nbd.wire;

import java.io.IOException;

/**
 * An I/O failure of an export backend. The kind decides the errno the client sees
 * ({@link IoErrorKind#toErrno()}); the message is sent along in structured error chunks.
 */
public final class NbdIoException extends IOException {
    private static final long serialVersionUID = 1L;
    /** What went wrong. */
    private final IoErrorKind kind;

    public NbdIoException(IoErrorKind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public NbdIoException(IoErrorKind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public IoErrorKind kind() {
        return kind;
    }
}
