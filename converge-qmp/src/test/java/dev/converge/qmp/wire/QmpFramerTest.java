package dev.converge.qmp.wire;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.qmp.wire.QmpFramer.Frame;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class QmpFramerTest {

    private static Frame msg(String json) {
        return new Frame.Message(json.getBytes(UTF_8));
    }

    private static List<Frame> feedWhole(byte[] input) {
        return new QmpFramer().feed(input);
    }

    private static List<Frame> feedByteByByte(byte[] input) {
        QmpFramer f = new QmpFramer();
        List<Frame> out = new ArrayList<>();
        for (byte b : input) {
            out.addAll(f.feed(new byte[] {b}));
        }
        return out;
    }

    /** Asserts that whole, byte-by-byte and every two-way split give {@code expected}. */
    private static void assertFrames(byte[] input, List<Frame> expected) {
        assertThat(feedWhole(input)).as("whole").isEqualTo(expected);
        assertThat(feedByteByByte(input)).as("byte by byte").isEqualTo(expected);
        for (int cut = 0; cut <= input.length; cut++) {
            QmpFramer f = new QmpFramer();
            List<Frame> out = new ArrayList<>(f.feed(Arrays.copyOfRange(input, 0, cut)));
            out.addAll(f.feed(Arrays.copyOfRange(input, cut, input.length)));
            assertThat(out).as("split at %d", cut).isEqualTo(expected);
        }
    }

    private static void assertFrames(String input, Frame... expected) {
        assertFrames(input.getBytes(UTF_8), List.of(expected));
    }

    @Test
    void oneCommand() {
        assertFrames("{\"execute\": \"qmp_capabilities\"}\r\n", msg("{\"execute\": \"qmp_capabilities\"}"));
    }

    @Test
    void severalMessagesInOneChunkWithAndWithoutSeparators() {
        assertFrames("{\"a\":1}{\"b\":[2,{\"c\":3}]}\n  [1,2]\t{}",
                msg("{\"a\":1}"), msg("{\"b\":[2,{\"c\":3}]}"), msg("[1,2]"), msg("{}"));
    }

    @Test
    void bracesAndQuotesInsideStringsDoNotCount() {
        String tricky = "{\"s\": \"}{][ \\\" \\\\\", \"t\": '}\"{'}";
        assertFrames(tricky + "\n{\"n\":1}", msg(tricky), msg("{\"n\":1}"));
    }

    @Test
    void escapedBackslashBeforeQuoteEndsTheString() {
        // "\\" is one backslash; the quote after it closes the string.
        String json = "{\"p\": \"C:\\\\\"}";
        assertFrames(json, msg(json));
    }

    @Test
    void utf8IsPassedThroughUnchanged() {
        String json = "{\"name\": \"Grüße 💾 ✓\"}";
        assertFrames(json + "\n", msg(json));
    }

    @Test
    void multiLineMessage() {
        String json = "{\n  \"execute\": \"x\",\n  \"arguments\": {\n    \"a\": [\n      1\n    ]\n  }\n}";
        assertFrames(json + "\n", msg(json));
    }

    @Test
    void topLevelScalarsAreFramesEndedByTheNextByte() {
        assertFrames("42 true\n\"str\"null{}", msg("42"), msg("true"), msg("\"str\""), msg("null"), msg("{}"));
    }

    @Test
    void partialFrameIsKeptNotHandedOut() {
        QmpFramer f = new QmpFramer();
        assertThat(f.feed("{\"execute\": \"qu".getBytes(UTF_8))).isEmpty();
        assertThat(f.pendingBytes()).isEqualTo(15);
        assertThat(f.feed("it\"}".getBytes(UTF_8))).containsExactly(msg("{\"execute\": \"quit\"}"));
        assertThat(f.pendingBytes()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"}", "]", ":", ",", "\u0001"})
    void strayByteAtTopLevelIsAnErrorAndTheRestOfTheLineIsDropped(String stray) {
        List<Frame> out = feedWhole((stray + " {\"lost\":1}\n{\"kept\":2}").getBytes(UTF_8));
        assertThat(out).hasSize(2);
        assertThat(out.get(0)).isInstanceOf(Frame.Error.class);
        assertThat(((Frame.Error) out.get(0)).desc()).startsWith("JSON parse error, stray '");
        assertThat(out.get(1)).isEqualTo(msg("{\"kept\":2}"));
    }

    @Test
    void nonUtf8ByteIsReportedInHex() {
        byte[] in = HexFormat.of().parseHex("ff0a7b7d"); // 0xff '\n' '{' '}'
        assertFrames(in, List.of(new Frame.Error("JSON parse error, stray '\\xff'"), msg("{}")));
    }

    @Test
    void nestingUpToTheLimitIsAccepted() {
        String deep = "[".repeat(QmpFramer.MAX_DEPTH) + "]".repeat(QmpFramer.MAX_DEPTH);
        assertThat(feedWhole(deep.getBytes(UTF_8))).containsExactly(msg(deep));
    }

    @Test
    void nestingBeyondTheLimitIsAnErrorAndTheFramerRecovers() {
        String tooDeep = "[".repeat(QmpFramer.MAX_DEPTH + 1) + "]".repeat(QmpFramer.MAX_DEPTH + 1);
        assertFrames(tooDeep + "\n{\"ok\":1}\n",
                new Frame.Error("JSON nesting depth limit exceeded: 65 (expected: at most 64)"), msg("{\"ok\":1}"));
    }

    @Test
    void messageOfExactlyTheLimitIsAccepted() {
        byte[] big = bigMessage(QmpFramer.MAX_MESSAGE_BYTES);
        List<Frame> out = feedWhole(big);
        assertThat(out).hasSize(1);
        assertThat(((Frame.Message) out.get(0)).json()).hasSize(QmpFramer.MAX_MESSAGE_BYTES);
    }

    @Test
    void messageOverTheLimitIsAnErrorWithoutBufferingMoreAndTheFramerRecovers() {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        in.writeBytes(bigMessage(QmpFramer.MAX_MESSAGE_BYTES + 1));
        in.writeBytes("\n{\"ok\":1}\n".getBytes(UTF_8));
        QmpFramer f = new QmpFramer();
        List<Frame> out = f.feed(in.toByteArray());
        assertThat(out).hasSize(2);
        assertThat(((Frame.Error) out.get(0)).desc()).startsWith("JSON message size limit exceeded");
        assertThat(out.get(1)).isEqualTo(msg("{\"ok\":1}"));
        assertThat(f.pendingBytes()).isZero();
    }

    @Test
    void oversizedInputFedInPiecesNeverHoldsMoreThanTheLimit() {
        QmpFramer f = new QmpFramer();
        byte[] chunk = new byte[64 * 1024];
        Arrays.fill(chunk, (byte) 'a');
        f.feed("{\"s\": \"".getBytes(UTF_8));
        List<Frame> errors = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            errors.addAll(f.feed(chunk));
            assertThat(f.pendingBytes()).isLessThanOrEqualTo(QmpFramer.MAX_MESSAGE_BYTES);
        }
        assertThat(errors).hasSize(1).first().isInstanceOf(Frame.Error.class);
        // Still discarding (no newline yet); a newline resynchronises.
        assertThat(f.feed("\"}\n{}".getBytes(UTF_8))).containsExactly(msg("{}"));
    }

    @Test
    void errorOnTheNewlineItselfDoesNotDropTheNextLine() {
        // '[' and whitespace up to the limit: the newline is the byte that overflows it.
        byte[] full = new byte[QmpFramer.MAX_MESSAGE_BYTES];
        Arrays.fill(full, (byte) ' ');
        full[0] = '[';
        QmpFramer f = new QmpFramer();
        assertThat(f.feed(full)).isEmpty();
        List<Frame> out = f.feed("\n{}\n".getBytes(UTF_8));
        assertThat(out).hasSize(2);
        assertThat(out.get(0)).isInstanceOf(Frame.Error.class);
        assertThat(out.get(1)).isEqualTo(msg("{}"));
    }

    @Test
    void singleQuotedStringsAsQemuAccepts() {
        assertFrames("{'execute': 'x', 'arguments': {'s': '\"}'}}", msg("{'execute': 'x', 'arguments': {'s': '\"}'}}"));
    }

    private static byte[] bigMessage(int size) {
        // {"s": "aaaa...."} of exactly size bytes
        String head = "{\"s\": \"";
        String tail = "\"}";
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) 'a');
        System.arraycopy(head.getBytes(UTF_8), 0, b, 0, head.length());
        System.arraycopy(tail.getBytes(UTF_8), 0, b, size - tail.length(), tail.length());
        return b;
    }
}
