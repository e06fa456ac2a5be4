package dev.converge.qmp;

import java.util.Objects;

/**
 * A user-facing QMP error: the command was refused or failed and nothing else changed.
 * The message is the {@code desc} member of the reply: human-readable, not for parsing.
 * Internal bugs are never reported through this type; they are ordinary runtime exceptions.
 */
public class QmpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorClass errorClass;

    public QmpException(ErrorClass errorClass, String desc) {
        super(desc);
        this.errorClass = Objects.requireNonNull(errorClass);
    }

    public QmpException(ErrorClass errorClass, String desc, Throwable cause) {
        super(desc, cause);
        this.errorClass = Objects.requireNonNull(errorClass);
    }

    /** A {@link ErrorClass#GenericError} with the given description. */
    public static QmpException generic(String desc) {
        return new QmpException(ErrorClass.GenericError, desc);
    }

    /** A {@link ErrorClass#GenericError} with a formatted description. */
    public static QmpException generic(String format, Object... args) {
        return new QmpException(ErrorClass.GenericError, String.format(format, args));
    }

    public ErrorClass errorClass() {
        return errorClass;
    }

    public String desc() {
        return getMessage();
    }
}
