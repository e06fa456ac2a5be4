package dev.converge.block.driver;

/** Opening a node failed; the message is the user-facing text (QEMU's wording). */
public final class OpenException extends Exception {
    private static final long serialVersionUID = 1L;

    public OpenException(String message) {
        super(message);
    }
}
