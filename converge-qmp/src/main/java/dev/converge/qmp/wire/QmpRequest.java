package dev.converge.qmp.wire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * The envelope of one QMP request, checked as QEMU's qapi/qmp-dispatch.c does
 * ({@code qmp_dispatch_check_obj}) before the command is looked up.
 */
public sealed interface QmpRequest permits QmpRequest.Command, QmpRequest.Invalid {
    /** The request's {@code id}, echoed verbatim in the reply; null when it had none. */
    JsonNode id();

    /** A well-formed request for {@code command}; {@code arguments} is {@code {}} when absent. */
    record Command(String command, ObjectNode arguments, JsonNode id) implements QmpRequest {
    }

    /** A malformed request; {@code desc} is QEMU's text (a GenericError). */
    record Invalid(String desc, JsonNode id) implements QmpRequest {
    }

    /**
     * Checks the envelope. Members are checked in the order received, and the first problem is
     * reported. {@code exec-oob} is accepted only when {@code allowOob} (out-of-band execution
     * was negotiated); otherwise it is an unexpected member, as in QEMU.
     */
    static QmpRequest parse(JsonNode request, boolean allowOob) {
        if (!(request instanceof ObjectNode dict)) {
            return new Invalid("QMP input must be a JSON object", null);
        }
        JsonNode id = dict.get("id");
        String execKey = null;
        for (Map.Entry<String, JsonNode> e : dict.properties()) {
            String name = e.getKey();
            JsonNode value = e.getValue();
            if (name.equals("execute") || (name.equals("exec-oob") && allowOob)) {
                if (!value.isTextual()) {
                    return new Invalid("QMP input member '" + name + "' must be a string", id);
                }
                if (execKey != null) {
                    return new Invalid("QMP input member '" + name + "' clashes with '" + execKey + "'", id);
                }
                execKey = name;
            } else if (name.equals("arguments")) {
                if (!value.isObject()) {
                    return new Invalid("QMP input member 'arguments' must be an object", id);
                }
            } else if (!name.equals("id")) {
                return new Invalid("QMP input member '" + name + "' is unexpected", id);
            }
        }
        if (execKey == null) {
            return new Invalid("QMP input lacks member 'execute'", id);
        }
        JsonNode args = dict.get("arguments");
        return new Command(dict.get(execKey).asText(),
                args == null ? QmpJson.object() : (ObjectNode) args, id);
    }
}
