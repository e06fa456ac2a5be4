package dev.converge.qmp.client;

import dev.converge.qmp.ErrorClass;

/** The server answered a command with {@code {"error": {"class": ..., "desc": ...}}}. */
public final class QmpCommandException extends QmpClientException {
    private static final long serialVersionUID = 1L;

    private final String command;
    private final String errorClassName;
    private final String desc;

    public QmpCommandException(String command, String errorClassName, String desc) {
        super(command + ": " + errorClassName + ": " + desc, null);
        this.command = command;
        this.errorClassName = errorClassName;
        this.desc = desc;
    }

    /** The command that failed. */
    public String command() {
        return command;
    }

    /** The error class; {@link ErrorClass#GenericError} for a class this client does not know. */
    public ErrorClass errorClass() {
        for (ErrorClass c : ErrorClass.values()) {
            if (c.name().equals(errorClassName)) {
                return c;
            }
        }
        return ErrorClass.GenericError;
    }

    /** The error class as sent. */
    public String errorClassName() {
        return errorClassName;
    }

    /** The human-readable description as sent. */
    public String desc() {
        return desc;
    }
}
