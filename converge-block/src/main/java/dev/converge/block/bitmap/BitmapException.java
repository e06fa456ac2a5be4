package dev.converge.block.bitmap;

/**
 * A dirty bitmap operation was refused (busy, read-only, inconsistent, sizes that cannot be
 * merged, a name already taken...). The message is QEMU's text for the same refusal, so the QMP
 * layer passes it on as it is. Nothing was changed.
 */
public final class BitmapException extends Exception {
    public BitmapException(String message) {
        super(message);
    }
}
