package dev.converge.block.backup;

/**
 * A backup cannot start: the message is QEMU's text for why (e.g. "Source and target cannot be
 * the same"), and nothing changed. The QMP layer reports it as a GenericError.
 */
public final class BackupRefusedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BackupRefusedException(String message) {
        super(message);
    }

    BackupRefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
