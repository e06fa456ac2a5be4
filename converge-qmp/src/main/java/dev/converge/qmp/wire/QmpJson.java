package dev.converge.qmp.wire;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Parsing and printing of single QMP JSON texts (frames from {@link QmpFramer}). Pure functions
 * over one shared, immutable Jackson configuration.
 * <p>
 * Parsing is strict RFC 8259 plus QEMU's single-quoted strings; duplicate keys and trailing
 * tokens are errors; Jackson's {@link StreamReadConstraints} repeat the framer's limits as a
 * second line of defence. Printing follows QEMU's compact style ({@code {"a": 1, "b": 2}})
 * and each message ends with CR LF, as QEMU's monitor writes them.
 */
public final class QmpJson {
    /** Line end after every message we send. */
    public static final byte[] EOL = {'\r', '\n'};

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(JsonWriteFeature.ESCAPE_NON_ASCII)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(QmpFramer.MAX_DEPTH)
                .maxStringLength(QmpFramer.MAX_MESSAGE_BYTES)
                .maxNumberLength(1000)
                .build());
    }

    private static final QemuStylePrinter PRINTER = new QemuStylePrinter();

    private QmpJson() {
    }

    /** A failed parse: {@code desc} is the user-facing "JSON parse error, ..." text. */
    public static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;

        ParseException(String desc, Throwable cause) {
            super(desc, cause);
        }
    }

    /** Parses one JSON text. */
    public static JsonNode parse(byte[] json) throws ParseException {
        try {
            JsonNode node = MAPPER.readTree(json);
            if (node == null || node.isMissingNode()) {
                throw new ParseException("JSON parse error, expecting value", null);
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new ParseException("JSON parse error, " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            // Not I/O: bytes Jackson took for UTF-16 or UTF-32 (it guesses the encoding from zero
            // bytes) that are not valid there. A client's bad input, answered as a parse error
            // (found by QmpFramerFuzzTest; before, it ended the connection's reader thread).
            throw new ParseException("JSON parse error, " + e.getMessage(), e);
        }
    }

    /** Parses one JSON text given as a string (tests and the client). */
    public static JsonNode parse(String json) throws ParseException {
        return parse(json.getBytes(StandardCharsets.UTF_8));
    }

    /** One message as sent: compact QEMU style, UTF-8, CR LF at the end. */
    public static byte[] encode(JsonNode message) {
        try {
            byte[] body = MAPPER.writer(PRINTER).writeValueAsBytes(message);
            byte[] line = java.util.Arrays.copyOf(body, body.length + EOL.length);
            System.arraycopy(EOL, 0, line, body.length, EOL.length);
            return line;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JsonNode tree always serialises", e);
        }
    }

    /** The compact text of {@code node}, without line end (logs, docs). */
    public static String toText(JsonNode node) {
        try {
            return MAPPER.writer(PRINTER).writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JsonNode tree always serialises", e);
        }
    }

    /** A new empty object node. */
    public static ObjectNode object() {
        return JsonNodeFactory.instance.objectNode();
    }

    /** The shared node factory. */
    public static JsonNodeFactory nodes() {
        return JsonNodeFactory.instance;
    }

    /** The shared mapper, for callers that convert records to trees; do not reconfigure it. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** {@code {"a": 1, "b": [1, 2]}}: QEMU's one-line layout. */
    private static final class QemuStylePrinter extends MinimalPrettyPrinter {
        private static final long serialVersionUID = 1L;

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }
    }
}
