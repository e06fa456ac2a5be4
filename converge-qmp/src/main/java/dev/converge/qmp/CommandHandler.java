package dev.converge.qmp;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Runs one QMP command on the main loop. The arguments have been validated against the
 * command's declared type before the handler is called, so typed reads from {@link Args}
 * cannot fail on type or presence of required members.
 */
@FunctionalInterface
public interface CommandHandler {
    /**
     * @return the {@code return} value; {@code null} means the empty object {@code {}}
     * @throws QmpException a user-facing error; the command must then have changed nothing
     */
    JsonNode handle(Args args) throws QmpException;
}
