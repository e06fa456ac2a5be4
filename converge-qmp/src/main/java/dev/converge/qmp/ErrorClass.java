package dev.converge.qmp;

/**
 * The error classes QMP puts in {@code {"error": {"class": ...}}}. QEMU keeps these few for
 * compatibility and reports nearly everything else as {@link #GenericError}; we do the same.
 */
public enum ErrorClass {
    /** Any error without a more specific class; the {@code desc} says what went wrong. */
    GenericError,
    /** The command does not exist, or is not allowed before capabilities negotiation. */
    CommandNotFound,
    /** A device (or block node, job, export) named by the command is not active. */
    DeviceNotActive,
    /** A device (or block node, job, export) named by the command does not exist. */
    DeviceNotFound,
    /** The accelerator lacks a capability the command needs. */
    KVMMissingCap
}
