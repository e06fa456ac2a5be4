package dev.converge.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Iterator;
import java.util.Map;

/** One QMP event as a readable line: {@code 14:02:03.123456 JOB_STATUS_CHANGE id=m0 status=ready}. */
final class EventFormat {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");

    private EventFormat() {
    }

    /** The event's own timestamp in {@code zone}, its name, then its data flattened to key=value pairs. */
    static String line(JsonNode event, ZoneId zone) {
        JsonNode ts = event.path("timestamp");
        Instant at = Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000);
        StringBuilder sb = new StringBuilder(TIME.format(at.atZone(zone)));
        sb.append(' ').append(event.path("event").asText());
        flatten(sb, "", event.path("data"));
        return sb.toString();
    }

    static String line(JsonNode event) {
        return line(event, ZoneId.systemDefault());
    }

    private static void flatten(StringBuilder sb, String prefix, JsonNode node) {
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                flatten(sb, prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue());
            }
        } else if (!node.isMissingNode()) {
            sb.append(' ').append(prefix).append('=').append(node.isTextual() ? node.asText() : node.toString());
        }
    }
}
