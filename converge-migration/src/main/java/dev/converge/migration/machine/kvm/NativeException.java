package dev.converge.migration.machine.kvm;

/** A failed system call: what was attempted and the errno it returned. */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    NativeException(String what, int errno) {
        super(what + ": " + Errno.describe(errno));
        this.errno = errno;
    }

    /** As {@link #NativeException(String, int)}, with what the caller can do about it after the errno. */
    NativeException(String what, int errno, String hint) {
        super(what + ": " + Errno.describe(errno) + ": " + hint);
        this.errno = errno;
    }

    /** The errno value. */
    public int errno() {
        return errno;
    }
}
