package dev.converge.daemon;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * One QMP command the daemon runs at start, before it serves QMP: what a command-line option
 * such as {@code --blockdev}, {@code --object}, {@code --nbd-server} or {@code --export} asks
 * for. Run in command-line order, validated as if a client had sent it; the first failure stops
 * the start with the option named.
 *
 * @param option    the option as the user wrote it (for error messages), e.g. {@code --export type=nbd,...}
 * @param command   the QMP command, e.g. block-export-add
 * @param arguments its arguments; when {@code keyval}, values are still strings and get their
 *                  types from the command's schema first
 * @param keyval    whether the option was in key=value form
 */
public record StartupCall(String option, String command, ObjectNode arguments, boolean keyval) {
    public StartupCall {
        Objects.requireNonNull(option);
        Objects.requireNonNull(command);
        arguments = arguments.deepCopy();
    }

    @Override
    public ObjectNode arguments() {
        return arguments.deepCopy();
    }
}
