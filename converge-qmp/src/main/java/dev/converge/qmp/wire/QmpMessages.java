package dev.converge.qmp.wire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.ErrorClass;
import java.util.List;

/**
 * Builders for the messages a QMP server sends (pure functions). Shapes follow QEMU's
 * monitor/qmp.c and qapi/qmp-event.c:
 * <pre>
 * greeting  {"QMP": {"version": {"qemu": {"micro": M, "minor": N, "major": J}, "package": P}, "capabilities": [...]}}
 * success   {"return": VALUE, "id": ID}
 * error     {"error": {"class": CLASS, "desc": TEXT}, "id": ID}
 * event     {"event": NAME, "data": {...}, "timestamp": {"seconds": S, "microseconds": US}}
 * </pre>
 * {@code id} is present only when the request had one, and is echoed verbatim (any JSON value);
 * {@code data} is absent for events without data.
 */
public final class QmpMessages {
    private QmpMessages() {
    }

    /** The greeting sent on connect. */
    public static ObjectNode greeting(int major, int minor, int micro, String pkg, List<String> capabilities) {
        ObjectNode qemu = QmpJson.object();
        qemu.put("micro", micro);
        qemu.put("minor", minor);
        qemu.put("major", major);
        ObjectNode version = QmpJson.object();
        version.set("qemu", qemu);
        version.put("package", pkg);
        ObjectNode body = QmpJson.object();
        body.set("version", version);
        ArrayNode caps = body.putArray("capabilities");
        capabilities.forEach(caps::add);
        ObjectNode greeting = QmpJson.object();
        greeting.set("QMP", body);
        return greeting;
    }

    /**
     * The bytes of {@link #greeting} without capabilities, as {@link QmpJson#encode} writes them,
     * rendered without Jackson: a server writes them before anything else is set up, and a
     * JSON generator's first use costs milliseconds of start-up.
     */
    public static byte[] greetingBytes(int major, int minor, int micro, String pkg) {
        StringBuilder json = new StringBuilder(128).append("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": ").append(micro)
                .append(", \"minor\": ").append(minor).append(", \"major\": ").append(major)
                .append("}, \"package\": \"");
        for (int i = 0; i < pkg.length(); i++) {
            char c = pkg.charAt(i);
            switch (c) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                case '\n' -> json.append("\\n");
                case '\r' -> json.append("\\r");
                case '\t' -> json.append("\\t");
                case '\b' -> json.append("\\b");
                case '\f' -> json.append("\\f");
                default -> {
                    if (c < 0x20) {
                        json.append(String.format(java.util.Locale.ROOT, "\\u%04X", (int) c));
                    } else {
                        json.append(c);
                    }
                }
            }
        }
        json.append("\"}, \"capabilities\": []}}\r\n");
        return json.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** A success reply; a null {@code value} is the empty object. */
    public static ObjectNode success(JsonNode value, JsonNode id) {
        ObjectNode reply = QmpJson.object();
        reply.set("return", value == null ? QmpJson.object() : value);
        return withId(reply, id);
    }

    /** An error reply. */
    public static ObjectNode error(ErrorClass errorClass, String desc, JsonNode id) {
        ObjectNode error = QmpJson.object();
        error.put("class", errorClass.name());
        error.put("desc", desc);
        ObjectNode reply = QmpJson.object();
        reply.set("error", error);
        return withId(reply, id);
    }

    /** An event stamped with {@code epochMicros} (microseconds since the epoch). */
    public static ObjectNode event(String name, ObjectNode data, long epochMicros) {
        ObjectNode event = QmpJson.object();
        event.put("event", name);
        if (data != null) {
            event.set("data", data);
        }
        ObjectNode ts = event.putObject("timestamp");
        ts.put("seconds", Math.floorDiv(epochMicros, 1_000_000L));
        ts.put("microseconds", Math.floorMod(epochMicros, 1_000_000L));
        return event;
    }

    private static ObjectNode withId(ObjectNode reply, JsonNode id) {
        if (id != null) {
            reply.set("id", id);
        }
        return reply;
    }
}
