package dev.converge.qmp.wire;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * Parsing and printing of single QMP JSON texts (frames from {@link QmpFramer}). Pure functions
 * over one shared, immutable Jackson configuration.
 * <p>
 * Parsing is strict RFC 8259 plus QEMU's single-quoted strings; duplicate keys and trailing
 * tokens are errors; Jackson's {@link StreamReadConstraints} repeat the framer's limits as a
 * second line of defence. Printing follows QEMU's compact style ({@code {"a": 1, "b": 2}})
 * and each message ends with CR LF, as QEMU's monitor writes them.
 * <p>
 * Trees are built and printed here with Jackson's streaming API and its node classes, not with
 * an {@code ObjectMapper}: the mapper's serializer and deserializer machinery (several hundred
 * classes) would be loaded and initialised by every daemon and every CLI call before the first
 * message, for nothing a QMP tree needs (measured in docs/benchmarks.md, start-up).
 */
public final class QmpJson {
    /** Line end after every message we send. */
    public static final byte[] EOL = {'\r', '\n'};

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(QmpFramer.MAX_DEPTH)
                    .maxStringLength(QmpFramer.MAX_MESSAGE_BYTES)
                    .maxNumberLength(1000)
                    .build())
            .build();

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final QemuStylePrinter PRINTER = new QemuStylePrinter();

    private QmpJson() {
    }

    /** A failed parse: the message is the user-facing "JSON parse error, ..." text. */
    public static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;
        private static final String PREFIX = "JSON parse error, ";

        ParseException(String detail, Throwable cause) {
            super(PREFIX + detail, cause);
        }

        /** What is wrong, without the "JSON parse error, " prefix (for messages that name their source). */
        public String detail() {
            return getMessage().substring(PREFIX.length());
        }
    }

    /** Parses one JSON text. */
    public static JsonNode parse(byte[] json) throws ParseException {
        try (JsonParser p = FACTORY.createParser(json)) {
            return parseOne(p);
        } catch (JsonProcessingException e) {
            throw new ParseException(e.getOriginalMessage(), e);
        } catch (IOException e) {
            // Not I/O: bytes Jackson took for UTF-16 or UTF-32 (it guesses the encoding from zero
            // bytes) that are not valid there. A client's bad input, answered as a parse error
            // (found by QmpFramerFuzzTest; before, it ended the connection's reader thread).
            throw new ParseException(e.getMessage(), e);
        }
    }

    /** Parses one JSON text given as a string (tests, the client, command-line options). */
    public static JsonNode parse(String json) throws ParseException {
        return parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private static JsonNode parseOne(JsonParser p) throws IOException, ParseException {
        JsonToken first = p.nextToken();
        if (first == null) {
            throw new ParseException("expecting value", null);
        }
        JsonNode root = value(p, first);
        JsonToken trailing = p.nextToken();
        if (trailing != null) {
            throw new ParseException("Trailing token (of type " + trailing
                    + ") found after value: not allowed", null);
        }
        return root;
    }

    /** The tree of the value whose first token {@code t} the parser is on (depth bounded by the constraints). */
    private static JsonNode value(JsonParser p, JsonToken t) throws IOException {
        return switch (t) {
            case START_OBJECT -> {
                ObjectNode o = NODES.objectNode();
                for (JsonToken k = p.nextToken(); k == JsonToken.FIELD_NAME; k = p.nextToken()) {
                    String name = p.currentName();
                    o.set(name, value(p, p.nextToken()));
                }
                yield o;
            }
            case START_ARRAY -> {
                ArrayNode a = NODES.arrayNode();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    a.add(value(p, e));
                }
                yield a;
            }
            case VALUE_STRING -> NODES.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> NODES.numberNode(p.getIntValue());
                case LONG -> NODES.numberNode(p.getLongValue());
                default -> NODES.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> NODES.numberNode(p.getDoubleValue());
            case VALUE_TRUE -> NODES.booleanNode(true);
            case VALUE_FALSE -> NODES.booleanNode(false);
            case VALUE_NULL -> NODES.nullNode();
            default -> throw new IllegalStateException("unexpected token " + t + " at the start of a value");
        };
    }

    /** One message as sent: compact QEMU style, UTF-8, CR LF at the end. */
    public static byte[] encode(JsonNode message) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.setPrettyPrinter(PRINTER);
            write(g, message);
        } catch (IOException e) {
            throw new UncheckedIOException("a JsonNode tree always serialises", e);
        }
        out.writeBytes(EOL);
        return out.toByteArray();
    }

    /** The compact text of {@code node}, without line end (logs, docs). */
    public static String toText(JsonNode node) {
        return print(node, PRINTER);
    }

    /** The text of {@code node} indented over several lines, for people (the CLI's --json). */
    public static String toPrettyText(JsonNode node) {
        return print(node, new DefaultPrettyPrinter());
    }

    private static String print(JsonNode node, PrettyPrinter printer) {
        Writer out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.setPrettyPrinter(printer);
            write(g, node);
        } catch (IOException e) {
            throw new UncheckedIOException("a JsonNode tree always serialises", e);
        }
        return out.toString();
    }

    /** Writes a tree of QMP values (objects, arrays, strings, numbers, booleans, null). */
    private static void write(JsonGenerator g, JsonNode n) throws IOException {
        switch (n.getNodeType()) {
            case OBJECT -> {
                g.writeStartObject();
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
                    Map.Entry<String, JsonNode> e = it.next();
                    g.writeFieldName(e.getKey());
                    write(g, e.getValue());
                }
                g.writeEndObject();
            }
            case ARRAY -> {
                g.writeStartArray();
                for (JsonNode e : n) {
                    write(g, e);
                }
                g.writeEndArray();
            }
            case STRING -> g.writeString(n.textValue());
            case NUMBER -> {
                switch (n.numberType()) {
                    case INT -> g.writeNumber(n.intValue());
                    case LONG -> g.writeNumber(n.longValue());
                    case BIG_INTEGER -> g.writeNumber(n.bigIntegerValue());
                    case FLOAT -> g.writeNumber(n.floatValue());
                    case DOUBLE -> g.writeNumber(n.doubleValue());
                    case BIG_DECIMAL -> g.writeNumber(n.decimalValue());
                }
            }
            case BOOLEAN -> g.writeBoolean(n.booleanValue());
            case NULL, MISSING -> g.writeNull();
            default -> throw new IllegalArgumentException("not a QMP value: " + n.getNodeType());
        }
    }

    /** A new empty object node. */
    public static ObjectNode object() {
        return NODES.objectNode();
    }

    /** The shared node factory. */
    public static JsonNodeFactory nodes() {
        return NODES;
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
