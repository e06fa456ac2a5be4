package dev.converge.block;

/**
 * The errno values block I/O reports, with Linux numbering and glibc's strerror texts.
 * NBD and QMP map these to their own codes; anything not listed arrives as {@link #EIO}
 * unless {@link #of(int)} knows it.
 */
public enum Errno {
    EPERM(1, "Operation not permitted"),
    ENOENT(2, "No such file or directory"),
    EIO(5, "Input/output error"),
    ENXIO(6, "No such device or address"),
    ENOMEM(12, "Cannot allocate memory"),
    EACCES(13, "Permission denied"),
    EBUSY(16, "Device or resource busy"),
    EEXIST(17, "File exists"),
    EINVAL(22, "Invalid argument"),
    EFBIG(27, "File too large"),
    ENOSPC(28, "No space left on device"),
    EROFS(30, "Read-only file system"),
    ENOTSUP(95, "Operation not supported"),
    ESHUTDOWN(108, "Cannot send after transport endpoint shutdown");

    private final int code;
    private final String text;

    Errno(int code, String text) {
        this.code = code;
        this.text = text;
    }

    /** The Linux errno number. */
    public int code() {
        return code;
    }

    /** What strerror(3) says for it. */
    public String strerror() {
        return text;
    }

    /** What strerror(3) says for a Linux errno number, as a job's error shows it ("Unknown error N" when unlisted). */
    public static String describe(int code) {
        Errno e = of(code);
        return e != null ? e.text : "Unknown error " + code;
    }

    /** The constant for a Linux errno number, or null when this enum does not list it. */
    public static Errno of(int code) {
        for (Errno e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return null;
    }
}
