package dev.converge.migration.machine.kvm;

/** A failed system call: what was attempted and the errno it returned. */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    NativeException(String what, int errno) {
        super(what + ": " + Errno.describe(errno));
        this.errno = errno;
    }

    /** The errno value. */
    public int errno() {
        return errno;
    }
}
