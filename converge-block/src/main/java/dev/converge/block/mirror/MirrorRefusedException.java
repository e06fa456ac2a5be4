package dev.converge.block.mirror;

/**
 * A mirror cannot start: the message is QEMU's text for why (e.g. "Can't mirror node into
 * itself"), and nothing changed. The QMP layer reports it as a GenericError.
 */
public final class MirrorRefusedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MirrorRefusedException(String message) {
        super(message);
    }

    MirrorRefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
