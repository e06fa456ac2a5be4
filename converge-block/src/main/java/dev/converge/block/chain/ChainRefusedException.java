package dev.converge.block.chain;

/** A stream or commit job was refused; the message is QEMU's text (the QMP binding passes it on). */
public final class ChainRefusedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ChainRefusedException(String message) {
        super(message);
    }

    public ChainRefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
