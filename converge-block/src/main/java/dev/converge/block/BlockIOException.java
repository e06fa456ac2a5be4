package dev.converge.block;

import java.io.IOException;
import java.util.Objects;

/**
 * A block request failed. Carries the errno number (what the request would return in QEMU,
 * negated there) so that NBD and the job error policies can map it without parsing text.
 * The message names the operation, the node and the range.
 */
public final class BlockIOException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public BlockIOException(Errno errno, String message) {
        this(errno.code(), message, null);
    }

    public BlockIOException(Errno errno, String message, Throwable cause) {
        this(errno.code(), message, cause);
    }

    /** For errno numbers that {@link Errno} may not list (e.g. injected by blkdebug). */
    public BlockIOException(int errno, String message, Throwable cause) {
        super(Objects.requireNonNull(message), cause);
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive: " + errno);
        }
        this.errno = errno;
    }

    /** The errno number, positive (e.g. 5 for EIO). */
    public int errno() {
        return errno;
    }

    /** The errno as a constant; {@link Errno#EIO} when the number is not one {@link Errno} lists. */
    public Errno kind() {
        Errno e = Errno.of(errno);
        return e == null ? Errno.EIO : e;
    }
}
