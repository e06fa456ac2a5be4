package dev.converge.nbd.export;

import dev.converge.block.BlockIOException;
import dev.converge.block.Errno;
import dev.converge.nbd.wire.IoErrorKind;
import dev.converge.nbd.wire.NbdIoException;

/**
 * The two mappings between the block layer's errno values and NBD's {@link IoErrorKind}: one per
 * direction, as QEMU's system_errno_to_nbd_errno and nbd_errno_to_system_errno.
 */
public final class BlockErrors {
    private BlockErrors() {
    }

    /** Block errno → NBD kind (server side). Anything unlisted becomes {@link IoErrorKind#OTHER} (EINVAL on the wire). */
    public static IoErrorKind toKind(Errno errno) {
        return switch (errno) {
            case EPERM, EACCES -> IoErrorKind.PERMISSION;
            case EROFS -> IoErrorKind.READ_ONLY;
            case EIO, ENOENT, ENXIO, EBUSY, EEXIST -> IoErrorKind.IO;
            case ENOMEM -> IoErrorKind.NO_MEMORY;
            case ENOSPC -> IoErrorKind.NO_SPACE;
            case EFBIG -> IoErrorKind.TOO_BIG;
            case ENOTSUP -> IoErrorKind.NOT_SUPPORTED;
            case ESHUTDOWN -> IoErrorKind.SHUTDOWN;
            case EINVAL -> IoErrorKind.INVALID;
        };
    }

    /** A block failure as the NBD server's exception, cause and message kept. */
    public static NbdIoException toNbd(BlockIOException e) {
        Errno known = Errno.of(e.errno());
        IoErrorKind kind = known == null ? IoErrorKind.OTHER : toKind(known);
        return new NbdIoException(kind, e.getMessage(), e);
    }

    /** NBD kind → block errno (client side). */
    public static Errno toErrno(IoErrorKind kind) {
        return switch (kind) {
            case PERMISSION -> Errno.EPERM;
            case READ_ONLY -> Errno.EROFS;
            case IO -> Errno.EIO;
            case NO_MEMORY -> Errno.ENOMEM;
            case NO_SPACE -> Errno.ENOSPC;
            case TOO_BIG -> Errno.EFBIG;
            case OVERFLOW, INVALID, OTHER -> Errno.EINVAL;
            case NOT_SUPPORTED -> Errno.ENOTSUP;
            case SHUTDOWN -> Errno.ESHUTDOWN;
        };
    }
}
