package dev.converge.job;

import java.util.Objects;

/**
 * A user error of a job command: the command was refused and changed nothing. The QMP layer
 * maps {@link Kind#NOT_FOUND} to DeviceNotActive (as QEMU does for "Job not found") and
 * everything else to GenericError. Internal bugs are never reported with this type.
 */
public final class JobException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What kind of user error this is; decides the QMP error class. */
    public enum Kind {
        /** Any refusal: bad state for the verb, bad argument, driver refused. */
        GENERIC,
        /** No job has the given id. */
        NOT_FOUND
    }

    private final Kind kind;

    public JobException(Kind kind, String message) {
        super(message);
        this.kind = Objects.requireNonNull(kind);
    }

    /** A {@link Kind#GENERIC} error with the given message. */
    public static JobException generic(String message) {
        return new JobException(Kind.GENERIC, message);
    }

    /** The error for an unknown job id, worded as QEMU's. */
    public static JobException notFound() {
        return new JobException(Kind.NOT_FOUND, "Job not found");
    }

    public Kind kind() {
        return kind;
    }
}
