package dev.converge.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.CompletionStage;

/**
 * A command whose work waits on something outside the daemon (a peer's connect and handshake):
 * the main loop only starts it, and the reply is sent when the returned stage completes, so
 * other commands and other clients are served meanwhile (as QEMU's coroutine commands yield
 * the monitor). The client that sent it gets its later replies in order: the connection runs
 * its next request only after this one answered.
 * <p>
 * {@link #handle} is the same command run to its end on the calling thread, for callers that
 * must wait (wiring at start, tests); it blocks for as long as the outside takes.
 */
public interface AsyncCommandHandler extends CommandHandler {
    /**
     * Called on the main loop with validated arguments.
     *
     * @return completes (on any thread) with the {@code return} value ({@code null}: the empty
     *         object), or exceptionally with a {@link QmpException} for a user-facing error, after
     *         which the command must have changed nothing
     * @throws QmpException for an error found before anything started
     */
    CompletionStage<JsonNode> start(Args args) throws QmpException;
}
