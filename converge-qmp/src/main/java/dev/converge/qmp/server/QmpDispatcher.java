package dev.converge.qmp.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.AsyncCommandHandler;
import dev.converge.qmp.ErrorClass;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.SchemaValidator;
import dev.converge.qmp.wire.QmpMessages;
import dev.converge.qmp.wire.QmpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one parsed request into its reply, as QEMU's monitor/qmp.c and qapi/qmp-dispatch.c do:
 * envelope check, capabilities negotiation, command lookup, argument validation, handler.
 * Runs on the main loop only, one request at a time; it holds no state of its own (the
 * negotiation state lives in the {@link Session}).
 */
public final class QmpDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(QmpDispatcher.class);

    /** The per-connection state the dispatcher reads and changes; main-loop confined. */
    public interface Session {
        /** Whether {@code qmp_capabilities} has succeeded on this connection. */
        boolean negotiated();

        /** Leaves negotiation mode (called once, on the main loop). */
        void markNegotiated();
    }

    private final QmpRegistry registry;

    public QmpDispatcher(QmpRegistry registry) {
        this.registry = registry;
    }

    /**
     * The reply message (with the request's id) to {@code request}, once the command ends: at once
     * for ordinary commands, later for an {@link AsyncCommandHandler}'s. The stage always completes
     * normally, errors included as error replies. Main loop; the stage may complete on any thread.
     */
    public CompletionStage<ObjectNode> dispatchAsync(JsonNode request, Session session) {
        QmpRequest parsed = QmpRequest.parse(request, false);
        if (parsed instanceof QmpRequest.Command cmd && session.negotiated()
                && registry.command(cmd.command()).orElse(null) instanceof CommandSpec spec
                && spec.handler() instanceof AsyncCommandHandler async) {
            CompletionStage<JsonNode> started;
            try {
                started = async.start(new Args(SchemaValidator.validateArguments(spec, cmd.arguments())));
            } catch (RuntimeException e) {
                return CompletableFuture.completedFuture(failure(cmd, e));
            }
            return started.handle((result, e) -> e == null ? QmpMessages.success(result, cmd.id())
                    : failure(cmd, e instanceof CompletionException && e.getCause() != null ? e.getCause() : e));
        }
        return CompletableFuture.completedFuture(dispatch(request, session));
    }

    private static ObjectNode failure(QmpRequest.Command cmd, Throwable e) {
        if (e instanceof QmpException q) {
            return QmpMessages.error(q.errorClass(), q.desc(), cmd.id());
        }
        LOG.error("internal error in QMP command {}", cmd.command(), e);
        return QmpMessages.error(ErrorClass.GenericError, "Internal error in command " + cmd.command() + ": " + e, cmd.id());
    }

    /** The complete reply message (with the request's id) to {@code request}, running every command to its end here. */
    public ObjectNode dispatch(JsonNode request, Session session) {
        return switch (QmpRequest.parse(request, false)) {
            case QmpRequest.Invalid bad -> QmpMessages.error(ErrorClass.GenericError, bad.desc(), bad.id());
            case QmpRequest.Command cmd -> {
                try {
                    yield QmpMessages.success(run(cmd, session), cmd.id());
                } catch (QmpException e) {
                    yield QmpMessages.error(e.errorClass(), e.desc(), cmd.id());
                } catch (RuntimeException e) {
                    // A bug in a handler: keep serving, tell the client, keep the cause in the log.
                    LOG.error("internal error in QMP command {}", cmd.command(), e);
                    yield QmpMessages.error(ErrorClass.GenericError,
                            "Internal error in command " + cmd.command() + ": " + e, cmd.id());
                }
            }
        };
    }

    private JsonNode run(QmpRequest.Command cmd, Session session) {
        if (cmd.command().equals(QmpCoreCommands.QMP_CAPABILITIES.name())) {
            return capabilities(cmd.arguments(), session);
        }
        if (!session.negotiated()) {
            throw new QmpException(ErrorClass.CommandNotFound,
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
        }
        CommandSpec spec = registry.command(cmd.command()).orElseThrow(() -> new QmpException(
                ErrorClass.CommandNotFound, "The command " + cmd.command() + " has not been found"));
        ObjectNode args = SchemaValidator.validateArguments(spec, cmd.arguments());
        return spec.handler().handle(new Args(args));
    }

    /** QEMU's qmp_qmp_capabilities and qmp_caps_accept: we offer no capability. */
    private static JsonNode capabilities(ObjectNode arguments, Session session) {
        ObjectNode args = SchemaValidator.validateArguments(QmpCoreCommands.QMP_CAPABILITIES, arguments);
        if (session.negotiated()) {
            throw new QmpException(ErrorClass.CommandNotFound,
                    "Capabilities negotiation is already complete, command ignored");
        }
        List<String> unavailable = new ArrayList<>();
        JsonNode enable = args.get("enable");
        if (enable != null) {
            enable.forEach(c -> {
                if (!unavailable.contains(c.asText())) {
                    unavailable.add(c.asText());
                }
            });
        }
        if (!unavailable.isEmpty()) {
            throw QmpException.generic("Capability %s not available", String.join(", ", unavailable));
        }
        session.markNegotiated();
        return null;
    }
}
