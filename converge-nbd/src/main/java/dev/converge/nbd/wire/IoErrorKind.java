package dev.converge.nbd.wire;

import dev.converge.nbd.wire.NbdProtocol.Errno;

/**
 * What went wrong in an I/O operation, independent of the wire. Backends fail with a kind; the
 * server turns it into an NBD errno with {@link #toErrno()}, and a client turns a received errno
 * back into a kind with {@link #fromWire(int)}. These are the only two mappings.
 */
public enum IoErrorKind {
    /** Not permitted. */
    PERMISSION,
    /** The medium is read-only (EROFS; NBD has no such errno, QEMU sends EPERM). */
    READ_ONLY,
    /** An I/O error of the medium. */
    IO,
    /** Out of memory. */
    NO_MEMORY,
    /** No space left, or beyond the end of the medium. */
    NO_SPACE,
    /** Too large (EFBIG; QEMU sends ENOSPC). */
    TOO_BIG,
    /** A request larger than the server accepts. */
    OVERFLOW,
    /** Not supported, e.g. a zero write that cannot be fast. */
    NOT_SUPPORTED,
    /** Shutting down. */
    SHUTDOWN,
    /** Invalid argument. */
    INVALID,
    /** Anything else; travels as EINVAL, as QEMU sends unknown errors. */
    OTHER;

    /** Internal failure → wire errno (server side, QEMU's system_errno_to_nbd_errno). */
    public Errno toErrno() {
        return switch (this) {
            case PERMISSION, READ_ONLY -> Errno.EPERM;
            case IO -> Errno.EIO;
            case NO_MEMORY -> Errno.ENOMEM;
            case NO_SPACE, TOO_BIG -> Errno.ENOSPC;
            case OVERFLOW -> Errno.EOVERFLOW;
            case NOT_SUPPORTED -> Errno.ENOTSUP;
            case SHUTDOWN -> Errno.ESHUTDOWN;
            case INVALID, OTHER -> Errno.EINVAL;
        };
    }

    /** Wire errno → internal failure (client side); an unknown errno is {@link #INVALID}, as QEMU. */
    public static IoErrorKind fromWire(int errno) {
        Errno e;
        try {
            e = Errno.fromCode(errno);
        } catch (NbdProtocolException.UnknownCode unknown) {
            return INVALID;
        }
        return switch (e) {
            case EPERM -> PERMISSION;
            case EIO -> IO;
            case ENOMEM -> NO_MEMORY;
            case EINVAL -> INVALID;
            case ENOSPC -> NO_SPACE;
            case EOVERFLOW -> OVERFLOW;
            case ENOTSUP -> NOT_SUPPORTED;
            case ESHUTDOWN -> SHUTDOWN;
        };
    }
}
